"""Helpers shared by the test suites (importable as ``support`` because ``tests/`` is on ``sys.path``).

- ``synthetic``: results, samples and baselines built in code with chosen numbers, so a
  verdict is decided by the test, never by how busy the machine was;
- ``runtime_http``: scripted ``httpx.MockTransport`` streams with a clock the stream advances;
- ``fake_github``: a stateful fake of the GitHub REST API, in process or over loopback HTTP;
- ``sim``: in-process simulator servers with an httpx client (the ``start_sim`` fixture);
- ``cli``: ``perfgate`` as a subprocess, a one-scenario project to run it in, and its results file;
- ``waiting``: wait on a condition with a generous deadline instead of sleeping a fixed time;
- ``children``: a child interpreter that starts something and is then killed (orphan checks);
- ``git``: hermetic git commands for throw-away repositories;
- ``docs``: the lines docs/troubleshooting.md quotes;
- ``hostile``: hostile strings, gate reports and results built from them, and checks (a real
  CommonMark parser; a CI runner's workflow-command rules) that nothing of them is live.
"""

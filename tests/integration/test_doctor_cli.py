"""``perfgate doctor`` on this (Linux) machine, over real sockets: exit 3 with a line per failed check when no
runtime listens, 0 when the simulator answers there (the macOS-only checks skip, saying so)."""

from __future__ import annotations

import json

from support.cli import clean_env, error_lines, free_port, perfgate
from support.sim import MODEL, StartSim

# Other jobs share this machine: the CPU check would judge them, not perfgate (its unit tests cover it).
NOT_THE_NEIGHBOURS = ("--skip", "heavy-processes")


def test_no_runtime_listening_is_exit_3_with_a_line_per_failed_check(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    proc = perfgate("doctor", "--runtime", "ollama", "--base-url", url, "--model", MODEL, *NOT_THE_NEIGHBOURS,
                    cwd=tmp_path, env=clean_env())  # fmt: skip
    assert proc.returncode == 3, proc.stdout + proc.stderr
    failed = [line for line in proc.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failed) == 1, proc.stdout
    assert failed[0].startswith("FAIL  runtime reachable")
    assert f"nothing is listening at {url}" in failed[0]
    assert "fix: start it (`ollama serve`, or Ollama.app), or pass --base-url" in proc.stdout
    assert error_lines(proc) == ["perfgate: not fit to measure: 1 check(s) failed (runtime)"]
    for macos_only in ("Low Power Mode off", "Spotlight indexing off for the workspace", "automatic updates off"):
        assert any(line.startswith(f"skip  {macos_only}") and "macOS only" in line for line in proc.stdout.splitlines())


def test_the_simulator_answering_is_exit_0(tmp_path, start_sim: StartSim):
    server, _ = start_sim()
    proc = perfgate("doctor", "--runtime", "ollama", "--base-url", server.base_url, "--model", MODEL,
                    *NOT_THE_NEIGHBOURS, cwd=tmp_path, env=clean_env())  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("ok    runtime reachable")
    assert lines[1].startswith("ok    model present")
    # The simulator serves in this test's process: the doctor finds it by its port, as the same user.
    assert lines[2].startswith("ok    runtime memory readable")
    assert not [line for line in lines if line.startswith("FAIL")]


def test_json_for_scripts_and_a_wrong_digest_fails(tmp_path, start_sim: StartSim):
    server, _ = start_sim()
    proc = perfgate("doctor", "--base-url", server.base_url, "--model", MODEL, "--model-digest", "0" * 64,
                    "--format", "json", *NOT_THE_NEIGHBOURS, cwd=tmp_path, env=clean_env())  # fmt: skip
    assert proc.returncode == 3, proc.stdout + proc.stderr
    document = json.loads(proc.stdout)
    assert document["fit"] is False
    by_name = {check["name"]: check for check in document["checks"]}
    assert by_name["model"]["status"] == "fail"
    assert by_name["model"]["fix"] == f"`ollama pull {MODEL}` again"
    assert by_name["runtime"]["status"] == "ok"
    assert by_name["heavy-processes"] == {
        "name": "heavy-processes", "title": "no other heavy processes", "status": "skip",
        "detail": "skipped (--skip)", "fix": None,
    }  # fmt: skip

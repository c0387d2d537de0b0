"""SimProcess: `perfgate sim` as a child process, its ready line, its failures, and no orphans."""

from __future__ import annotations

import sys
import textwrap
import time

import httpx
import psutil
import pytest
from support.children import kill_hard, launcher
from support.waiting import command_line, still_alive

from perfgate.errors import RuntimeUnavailable
from perfgate.sim.launch import SimProcess
from perfgate.sim.profile import SimProfile

PROFILE = SimProfile(ttft_ms=2, tok_s=1000, jitter_cv=0, load_ms=0, ballast_mb=16)


class _FakeSim(SimProcess):
    """A stand-in child, to exercise the launcher's failure paths."""

    def __init__(self, code: str, startup_timeout_s: float = 15.0) -> None:
        super().__init__(PROFILE, startup_timeout_s=startup_timeout_s)
        self.code = code

    def argv(self) -> list[str]:
        return [sys.executable, "-c", self.code]


def test_sim_process_serves_and_cleans_up():
    with SimProcess(PROFILE) as sim:
        assert sim.base_url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{sim.base_url}/api/version", timeout=5).json()["version"].endswith("perfgate-sim")
        tree = psutil.Process(sim.pid).children(recursive=True)
        runners = [p for p in tree if "perfgate.sim.runner" in command_line(p)]
        assert len(runners) == 1
        assert runners[0].memory_info().rss >= 16 * 2**20
        pids = [sim.pid, runners[0].pid]
        started = time.monotonic()
    assert time.monotonic() - started < 4.0  # SIGTERM was honoured, not escalated to SIGKILL after 5 s
    assert still_alive(pids) == set()


def test_profile_reaches_the_child():
    profile = PROFILE.model_copy(update={"model": "tiny:1b", "fault": "http_500"})
    with SimProcess(profile) as sim:
        assert httpx.get(f"{sim.base_url}/api/tags", timeout=5).json()["models"][0]["name"] == "tiny:1b"
        response = httpx.post(f"{sim.base_url}/api/chat", json={"model": "tiny:1b", "messages": []}, timeout=5)
        assert response.status_code == 500


def test_child_that_exits_is_reported_with_its_stderr():
    sim = _FakeSim("import sys; sys.stderr.write('boom: no such flag\\n'); sys.exit(2)")
    with pytest.raises(RuntimeUnavailable, match=r"exited with code 2.*boom: no such flag"):
        sim.start()


def test_child_with_an_unexpected_first_line_is_refused():
    sim = _FakeSim("import time; print('hello', flush=True); time.sleep(60)")
    with pytest.raises(RuntimeUnavailable, match=r"printed 'hello' instead of its ready line"):
        sim.start()


def test_child_that_never_gets_ready_times_out_and_is_killed():
    sim = _FakeSim("import sys, time; sys.stderr.write('loading\\n'); time.sleep(60)", startup_timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(RuntimeUnavailable, match=r"no ready line within 0.5 s; stderr: loading"):
        sim.start()
    assert 0.5 <= time.monotonic() - started < 8.0
    # stop() ran inside start(): no stand-in child is left behind.
    leftovers = [p for p in psutil.Process().children() if "time.sleep(60)" in command_line(p)]
    assert leftovers == []


def test_killed_launcher_leaves_no_orphans():
    script = textwrap.dedent(
        """
        import sys, time
        from perfgate.sim.launch import SimProcess
        from perfgate.sim.profile import SimProfile
        sim = SimProcess(SimProfile(ballast_mb=1, load_ms=0))
        sim.start()
        print(sim.pid, flush=True)
        time.sleep(60)
        """
    )
    with launcher(script) as (child, sim_pid):
        runner_pids = [p.pid for p in psutil.Process(sim_pid).children()]
        assert len(runner_pids) == 1
        kill_hard(child)  # no chance to clean up
        assert still_alive([sim_pid, *runner_pids]) == set()

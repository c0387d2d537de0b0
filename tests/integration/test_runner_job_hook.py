"""tools/runner-job-hook.sh, the persistent runner's per-job clean-up (docs/ci-setup.md).

The hook is written for macOS; here it runs under bash with stand-ins for `launchctl` and
`ollama` on PATH, and ALWAYS with PERFGATE_HOOK_DRY_RUN=1: on a shared machine it must not
kill or delete anything, so the tests read what it says it would do.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOOK = ROOT / "tools" / "runner-job-hook.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None or shutil.which("ps") is None, reason="needs bash and ps")


def fake(bin_dir: Path, name: str, output: str) -> None:
    script = bin_dir / name
    script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{output}\nEOF\n", encoding="utf-8")
    script.chmod(0o755)


@pytest.fixture
def machine(tmp_path: Path) -> dict[str, Path]:
    """A home, an /usr/local/etc/perfgate, a bin dir with stand-ins, and the hook under both names."""
    paths = {name: tmp_path / name for name in ("home", "etc", "bin", "libexec", "workspace")}
    for path in paths.values():
        path.mkdir()
    for name in ("job-started.sh", "job-completed.sh"):
        shutil.copy(HOOK, paths["libexec"] / name)
    fake(paths["bin"], "ollama", "NAME\tID\tSIZE\tMODIFIED\nqwen2.5:7b\t845dbda0ea48\t4.7 GB\t2 days ago")
    # This test process stands in for the login session's launchd jobs: what descends from it stays.
    fake(paths["bin"], "launchctl", f"PID\tStatus\tLabel\n{os.getpid()}\t0\tdev.perfgate.test\n-\t0\tnot.running")
    return paths


def run_hook(machine: dict[str, Path], phase: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{machine['bin']}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(machine["home"]),
        "GITHUB_WORKSPACE": str(machine["workspace"]),
        "PERFGATE_HOOK_ETC": str(machine["etc"]),
        "PERFGATE_HOOK_DRY_RUN": "1",
    }
    hook = machine["libexec"] / f"job-{phase}.sh"
    return subprocess.run(["bash", "-e", str(hook)], env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def processes() -> Iterator[dict[str, int]]:
    """A child of this process (stays) and an orphan re-parented away from it (a leftover)."""
    child = subprocess.Popen(["sleep", "60"])
    spawner = subprocess.run(
        ["bash", "-c", "sleep 60 >/dev/null 2>&1 & echo $!"],
        capture_output=True, text=True, check=True, start_new_session=True,
    )  # fmt: skip
    orphan = int(spawner.stdout.strip())
    try:
        yield {"child": child.pid, "orphan": orphan}
    finally:
        child.kill()
        child.wait()
        with contextlib.suppress(ProcessLookupError):
            os.kill(orphan, signal.SIGKILL)


def leftover_pids(output: str) -> set[int]:
    lines = [line for line in output.splitlines() if "leftover processes:" in line]
    return {int(pid) for line in lines for pid in line.split("leftover processes:", 1)[1].split()}


def test_a_process_whose_parent_left_is_killed_and_a_session_process_is_not(machine, processes) -> None:
    result = run_hook(machine, "started")
    assert result.returncode == 0, result.stdout + result.stderr
    leftovers = leftover_pids(result.stdout)
    assert processes["orphan"] in leftovers
    assert processes["child"] not in leftovers
    assert os.getpid() not in leftovers
    assert "would run: kill -KILL" in result.stdout
    # Dry run: it is still alive.
    os.kill(processes["orphan"], 0)


def test_state_a_job_can_plant_for_the_next_is_removed(machine) -> None:
    home = machine["home"]
    planted = [home / ".gitconfig", home / "Library" / "Python" / "3.13", home / "Library" / "Caches" / "pip"]
    for path in planted:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("planted", encoding="utf-8")
    result = run_hook(machine, "started")
    for path in (home / ".gitconfig", home / "Library" / "Python", home / "Library" / "Caches" / "pip"):
        assert f"would run: rm -rf -- {path}" in result.stdout
    assert "the workspace" not in result.stdout, "the workspace is removed after a job, not before"
    assert all(path.exists() for path in planted), "dry run deletes nothing"


def test_the_workspace_is_removed_after_the_job(machine) -> None:
    result = run_hook(machine, "completed")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"would run: rm -rf -- {machine['workspace']}" in result.stdout


def test_a_changed_model_fails_the_next_job_before_it_runs(machine) -> None:
    (machine["etc"] / "models.expected").write_text("qwen2.5:7b 845dbda0ea48\n", encoding="utf-8")
    assert run_hook(machine, "started").returncode == 0
    (machine["etc"] / "models.expected").write_text("qwen2.5:7b 000000000000\n", encoding="utf-8")
    result = run_hook(machine, "started")
    assert result.returncode == 1
    assert "::error::runner-job-hook (started): the runtime's models differ" in result.stdout
    # After a job nothing is checked: the next job's started hook fails instead.
    assert run_hook(machine, "completed").returncode == 0


def test_a_launch_agent_not_in_the_allowlist_fails_the_next_job(machine) -> None:
    agents = machine["home"] / "Library" / "LaunchAgents"
    agents.mkdir(parents=True)
    (agents / "actions.runner.org-repo.perf-base.plist").write_text("", encoding="utf-8")
    (machine["etc"] / "launch-agents.allow").write_text("actions.runner.org-repo.perf-base.plist\n", encoding="utf-8")
    assert run_hook(machine, "started").returncode == 0
    (agents / "com.example.persist.plist").write_text("", encoding="utf-8")
    result = run_hook(machine, "started")
    assert result.returncode == 1
    assert "launch agent not in" in result.stdout
    assert "com.example.persist.plist" in result.stdout


def test_a_process_on_the_allowlist_stays(machine, processes) -> None:
    (machine["etc"] / "processes.allow").write_text("\nsleep\n", encoding="utf-8")
    result = run_hook(machine, "started")
    assert processes["orphan"] not in leftover_pids(result.stdout)

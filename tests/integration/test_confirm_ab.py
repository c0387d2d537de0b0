"""The floor of issue 14's A/B re-measure, end to end: real git, the simulator over real sockets, the CLI.

A tiny app (``app.py``: one streamed ``/api/chat`` request through
``OLLAMA_HOST``, asking for as many tokens as its ``app.json`` says) lives in
a git repository with a perfgate config that runs it as the app scenario
``chat``. Its base commit is measured for the baseline (``baselines/sim.json``
records that commit), then:

- the current commit asks for 20 % more tokens, so every request really
  streams 20 % longer: the gate flags it, and ``perfgate confirm`` (the base
  commit checked out in a temporary worktree, A B, B A, … in one session)
  confirms it: exit 1, and triage files it;
- the current commit changes nothing, but the runtime runs 8 % slower for the
  whole session (the simulator's delays and rates scaled, for A and B alike):
  against the baseline measured at normal speed the gate sees about +8 %, past
  the 5 % threshold, while the A/B re-measure does not confirm it: exit 0, and
  triage files nothing, saying why.

What load can do: both effects live in the simulator's own delays (end-to-end
latency of 60-72 tokens at 200 tok/s, about 0.3 s), which load only lengthens,
by a few ms; a pair's two runs are seconds apart, so load that comes and goes
shifts both alike, and which side runs first alternates. The regression is 20
% against a 5 % threshold (its interval must clear 5 %), and the unchanged
commit can only be confirmed worse if its pairs are, beyond doubt, 5 % apart.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import clean_env, error_lines, free_port, perfgate
from support.git import HERMETIC, git
from support.waiting import command_line, wait_until

from perfgate.contracts.confirmation import CONFIRMATION_SCHEMA_VERSION, Confirmation
from perfgate.contracts.gate import GATE_SCHEMA_VERSION, GateReport
from perfgate.decide.ab import is_flagged
from perfgate.files import read_model

APP = """\
import json, os, sys, time, urllib.request

config = json.load(open("app.json"))
time.sleep(config.get("sleep_s", 0))
body = {
    "model": "qwen2.5:7b-instruct-q4_K_M",
    "messages": [{"role": "user", "content": "Say hi."}],
    "stream": True,
    "options": {"num_predict": config["tokens"], "temperature": 0, "seed": 42},
}
request = urllib.request.Request(
    f"http://{os.environ['OLLAMA_HOST']}/api/chat",
    data=json.dumps(body).encode(),
    headers={"Content-Type": "application/json"},
)
with urllib.request.urlopen(request, timeout=60) as response:
    for line in response:
        if json.loads(line).get("done"):
            break
"""

PROJECT = f"""[tool.perfgate]
runs = 5
warmup = 1

[tool.perfgate.runtime]
kind = "sim"

[tool.perfgate.sim]
ttft_ms = 20
tok_s = 200
prefill_tok_s = 2000
jitter_cv = 0.01
load_ms = 0
ballast_mb = 8

[tool.perfgate.gate]
min_baseline_samples = 8
baseline_runs = 8

[tool.perfgate.gate.confirm]
pairs = 8

# A baseline trusted as if its session were typical (no session spread assumed): the gate then reads
# a slow session as the regression it looks like, which is what the A/B re-measure is for.
[tool.perfgate.gate.metrics]
e2e_ms = {{ threshold_worse = 0.05, threshold_better = 0.05, session_spread = 0 }}

[tool.perfgate.scenarios]
short-explain.enabled = false
prefill.enabled = false

[tool.perfgate.scenarios.chat]
command = [{json.dumps(sys.executable)}, "app.py"]
timeout_s = 60
"""

# The whole session 8 % slower: every delay x 1.08, every rate / 1.08 (A and B alike).
SLOW_SESSION = {
    "PERFGATE_SIM__TTFT_MS": str(20 * 1.08),
    "PERFGATE_SIM__TOK_S": str(200 / 1.08),
    "PERFGATE_SIM__PREFILL_TOK_S": str(2000 / 1.08),
}
TIMEOUT = 600


def commit(repo: Path, message: str, **files: str) -> None:
    for name, text in files.items():
        (repo / name).write_text(text, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def worktrees(repo: Path) -> list[str]:
    out = subprocess.run(
        ["git", "worktree", "list", "--porcelain"],
        cwd=repo,
        env={**clean_env(), **HERMETIC},
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in out.stdout.splitlines() if line.startswith("worktree ")]


@pytest.fixture(scope="module")
def origin(tmp_path_factory) -> tuple[Path, str]:
    """The app's repository: the base commit, then its baseline (measured on it) committed on top."""
    repo = tmp_path_factory.mktemp("origin")
    git(repo, "init", "-q")
    commit(
        repo,
        "the app",
        **{
            "app.py": APP,
            "app.json": json.dumps({"tokens": 60}),
            "pyproject.toml": PROJECT,
            ".gitignore": "perf-results/\n",
        },
    )
    base = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    made = perfgate(
        "run", "--for-baseline", "--out", "perf-results/base.json", cwd=repo, env=clean_env(), timeout=TIMEOUT
    )
    assert made.returncode == 0, made.stderr
    updated = perfgate(
        "baseline", "update", "--tier", "sim", "--from", "perf-results/base.json", cwd=repo, env=clean_env()
    )
    assert updated.returncode == 0, updated.stderr
    commit(repo, "baseline")
    return repo, base


def clone(origin: Path, where: Path) -> Path:
    git(origin.parent, "clone", "-q", str(origin), str(where))
    return where


def gate_and_triage(work: Path) -> subprocess.CompletedProcess[str]:
    return perfgate(
        "gate", "--results-dir", "perf-results", "--triage", "--triage-ledger", "ledger.json",
        "--confirmations", "perf-results", cwd=work, env=clean_env(),
    )  # fmt: skip


def e2e_verdict(report: GateReport):
    (verdict,) = [v for v in report.verdicts if v.scenario == "chat" and v.metric == "e2e_ms"]
    return verdict


def test_an_app_asking_for_20_percent_more_tokens_is_confirmed(origin, tmp_path):
    repo, base = origin
    work = clone(repo, tmp_path / "slower")
    commit(work, "ask for 20 % more tokens", **{"app.json": json.dumps({"tokens": 72})})

    run = perfgate("run", "--compare", "--gate-out", "gate.json", cwd=work, env=clean_env(), timeout=TIMEOUT)
    assert run.returncode == 1, run.stdout + run.stderr
    assert (
        e2e_verdict(read_model(work / "gate.json", GateReport, what="gate", current_version=GATE_SCHEMA_VERSION)).change
        > 0.10
    )

    confirmed = perfgate("confirm", "--gate-report", "gate.json", cwd=work, env=clean_env(), timeout=TIMEOUT)
    assert confirmed.returncode == 1, confirmed.stdout + confirmed.stderr
    result = read_model(
        work / "perf-results" / "confirmation-sim.json",
        Confirmation,
        what="confirmation",
        current_version=CONFIRMATION_SCHEMA_VERSION,
    )
    assert result.base.git_sha == base
    assert result.status == "confirmed"
    (scenario,) = result.scenarios
    assert [p.order for p in scenario.pairs] == ["AB", "BA"] * 4
    e2e = next(v for v in scenario.verdicts if v.metric == "e2e_ms")
    assert e2e.confirmed
    assert (e2e.change_low or 0) > 0.05  # the whole interval past the threshold
    assert "e2e_ms" in scenario.flagged
    assert "confirmed regression" in confirmed.stdout
    # One progress line per pair on stderr, and the temporary checkout of the base is gone.
    assert sum(f"pair {i}/8" in confirmed.stderr for i in range(1, 9)) == 8
    assert len(worktrees(work)) == 1

    triaged = gate_and_triage(work)
    assert triaged.returncode == 1, triaged.stderr
    ledger = json.loads((work / "ledger.json").read_text(encoding="utf-8"))
    filed = [e for e in ledger["entries"] if e["fingerprint"] == "regression:sim:chat:e2e_ms"]
    assert len(filed) == 1
    assert "confirmed by A/B re-measure" in filed[0]["evidence"][0]["summary"]


def test_a_runtime_8_percent_slower_for_the_whole_session_is_not_confirmed(origin, tmp_path):
    repo, _ = origin
    work = clone(repo, tmp_path / "same")
    commit(work, "docs only", **{"README.md": "nothing the app runs\n"})
    slow = clean_env(**SLOW_SESSION)

    # Against the baseline measured at normal speed, the slow session looks like a regression.
    run = perfgate("run", "--compare", "--gate-out", "gate.json", cwd=work, env=slow, timeout=TIMEOUT)
    assert run.returncode in (0, 1), run.stderr
    gate = read_model(work / "gate.json", GateReport, what="gate", current_version=GATE_SCHEMA_VERSION)
    assert e2e_verdict(gate).change > 0.04  # about +8 %; load can only add to it
    assert is_flagged(e2e_verdict(gate))  # regressed, or suspected: what the re-measure is asked to look at

    # The same slow session, A and B in turn: no difference between the commits.
    confirmed = perfgate("confirm", "--gate-report", "gate.json", cwd=work, env=slow, timeout=TIMEOUT)
    assert confirmed.returncode == 0, confirmed.stdout + confirmed.stderr
    result = read_model(
        work / "perf-results" / "confirmation-sim.json",
        Confirmation,
        what="confirmation",
        current_version=CONFIRMATION_SCHEMA_VERSION,
    )
    assert result.status == "not_confirmed"
    e2e = next(v for v in result.scenarios[0].verdicts if v.metric == "e2e_ms")
    assert not e2e.confirmed
    assert abs(e2e.change or 1) < 0.04
    assert "not confirmed" in confirmed.stdout

    if e2e_verdict(gate).verdict.value == "regressed":
        triaged = gate_and_triage(work)
        assert triaged.returncode == 1, triaged.stderr
        assert not (work / "ledger.json").exists() or "e2e_ms" not in (work / "ledger.json").read_text("utf-8")
        summary = (work / "perf-results" / "summary.md").read_text(encoding="utf-8")
        assert "Not filed: not confirmed by A/B re-measure" in summary


def test_run_ab_confirm_follows_gate_confirm_when(origin, tmp_path):
    repo, _ = origin
    work = clone(repo, tmp_path / "run-flag")
    commit(work, "ask for 20 % more tokens", **{"app.json": json.dumps({"tokens": 72})})
    args = ("run", "--runs", "3", "--compare", "--ab-confirm")
    on_a_pr = clean_env(GITHUB_ACTIONS="true", GITHUB_EVENT_NAME="pull_request")
    skipped = perfgate(*args, cwd=work, env=on_a_pr, timeout=TIMEOUT)
    assert skipped.returncode == 1, skipped.stderr  # the gate's code
    assert "A/B re-measure skipped: gate.confirm.when = default-branch" in skipped.stdout
    assert not (work / "perf-results" / "confirmation-sim.json").exists()

    local = clean_env(PERFGATE_GATE__CONFIRM__PAIRS="4")  # outside Actions: runs as on the default branch
    ran = perfgate(*args, cwd=work, env=local, timeout=TIMEOUT)
    assert ran.returncode == 1, ran.stderr
    assert "A/B re-measure" in ran.stdout
    result = read_model(
        work / "perf-results" / "confirmation-sim.json",
        Confirmation,
        what="confirmation",
        current_version=CONFIRMATION_SCHEMA_VERSION,
    )
    assert len(result.scenarios[0].pairs) == 4


def test_could_not_measure_and_bad_usage(origin, tmp_path):
    repo, _ = origin
    work = clone(repo, tmp_path / "errors")
    missing = perfgate("confirm", "--scenario", "chat", "--base", "deadbeef", cwd=work, env=clean_env())
    assert missing.returncode == 3
    assert error_lines(missing) == ["perfgate: --base deadbeef: no such commit in this clone"]

    down = perfgate(
        "confirm", "--scenario", "chat", "--tier", "sim", "--runtime", "ollama", "--base-url", f"http://127.0.0.1:{free_port()}",
        cwd=work, env=clean_env(), timeout=TIMEOUT,
    )  # fmt: skip
    assert down.returncode == 3, down.stdout + down.stderr
    assert any("runtime" in line.lower() for line in error_lines(down))
    assert len(worktrees(work)) == 1

    for args, says in (
        (("confirm",), "name what to re-measure"),
        (("confirm", "--scenario", "nope"), "unknown scenario 'nope'"),
        (("confirm", "--scenario", "chat", "--pairs", "1"), "gate.confirm.pairs"),
    ):
        bad = perfgate(*args, cwd=work, env=clean_env())
        assert bad.returncode == 2, bad.stderr
        assert says in bad.stderr
    outside = tmp_path / "not-git"
    outside.mkdir()
    shutil.copy(work / "pyproject.toml", outside)
    no_git = perfgate("confirm", "--scenario", "chat", "--base", "HEAD", cwd=outside, env=clean_env())
    assert no_git.returncode == 2
    assert "not inside a git checkout" in no_git.stderr


def test_an_interrupt_removes_the_base_checkout(origin, tmp_path):
    repo, _ = origin
    work = clone(repo, tmp_path / "interrupted")
    commit(work, "a slow app", **{"app.json": json.dumps({"tokens": 60, "sleep_s": 30})})
    child = subprocess.Popen(
        [sys.executable, "-m", "perfgate", "confirm", "--scenario", "chat"],
        cwd=work,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: len(worktrees(work)) == 2, what="the base checkout")
        wait_until(lambda: any("app.py" in command_line(p) for p in _children(child.pid)), what="the app running")
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        for pipe in (child.stdout, child.stderr):  # closed also when an assertion above failed
            if pipe is not None:
                pipe.close()
    assert child.returncode == 130, stderr
    assert len(worktrees(work)) == 1
    assert "interrupted by SIGINT" in stderr


def _children(pid: int):
    import psutil  # noqa: PLC0415

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []

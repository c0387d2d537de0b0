"""Bad input rejected at the door, through a real ``perfgate`` process (issue 15).

``tests/unit/test_bad_inputs.py`` holds the whole table in-process; these are
the cases a process tells more about: the exit status the shell sees, no
traceback, every command's config read (a non-UTF-8 ``pyproject.toml``), a
file whose size is refused before it is read, the simulator's flags, a reader
that leaves the pipe early, and no good file changed.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import clean_env, error_lines, perfgate
from support.synthetic import baseline_of, make_result, write_baselines

from perfgate.files import write_model

RULE = "use at most 64 letters, digits, '.', '_' or '-', starting with a letter or digit"


def good_project(root: Path) -> Path:
    write_model(root / "results" / "pro.json", make_result(seed=1, tier="pro", n=12))
    write_baselines(root / "baselines", baseline_of(make_result(seed=2, tier="pro", n=15)))
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def refused(proc: subprocess.CompletedProcess[str], code: int, line: str) -> None:
    """Exit ``code``, exactly one ``perfgate:`` line, nothing else on stderr, no traceback."""
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.splitlines() == [f"perfgate: {line}"], proc.stderr
    assert proc.returncode == code


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return good_project(tmp_path)


def test_baseline_update_refuses_a_nan_sample_and_keeps_the_baseline(project: Path) -> None:
    data = json.loads((project / "results" / "pro.json").read_text(encoding="utf-8"))
    data["scenarios"][0]["samples"][3]["ttft_ms"] = math.nan
    (project / "nan.json").write_text(json.dumps(data), encoding="utf-8")
    before = snapshot(project)
    proc = perfgate("baseline", "update", "--tier", "pro", "--from", "nan.json", cwd=project, env=clean_env())
    refused(
        proc,
        2,
        "nan.json: invalid results file at field 'scenarios.0.samples.3.ttft_ms' (scenario 'short-explain', "
        "sample 3): Input should be a finite number (got nan)",
    )
    assert snapshot(project) == before


COMMANDS = [
    ["run", "--runtime", "sim", "--out", "r.json"],
    ["compare", "results/pro.json"],
    ["report", "results/pro.json"],
    ["baseline", "update", "--tier", "pro", "--from", "results/pro.json"],
    ["baseline", "diff"],
    ["gate", "--results-dir", "results"],
    ["triage", "list"],
    ["host"],
    ["sim", "--port", "0"],
    ["proxy", "--port", "0", "--record", "r.jsonl"],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(argv[:2]) for argv in COMMANDS])
def test_every_command_refuses_a_pyproject_that_is_not_utf8(project: Path, argv: list[str]) -> None:
    (project / "pyproject.toml").write_bytes("[tool.perfgate]\nruns = 5  # café\n".encode("latin-1"))
    before = snapshot(project)
    proc = perfgate(*argv, cwd=project, env=clean_env())
    refused(
        proc, 2, f"{project}/pyproject.toml: config file is not UTF-8 text (byte 0xe9 at offset 31); save it as UTF-8"
    )
    assert snapshot(project) == before


def test_deeply_nested_json_is_a_bad_file(project: Path) -> None:
    (project / "deep.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    before = snapshot(project)
    proc = perfgate("compare", "deep.json", cwd=project, env=clean_env())
    refused(proc, 2, "deep.json: results file is nested too deeply to be a results file")
    assert snapshot(project) == before


def test_a_file_over_the_size_limit_is_refused_without_reading_it(project: Path) -> None:
    with (project / "huge.json").open("wb") as handle:
        handle.truncate(50 * 2**20 + 1)  # sparse: 50 MiB and a byte, no disk used
    proc = perfgate("compare", "huge.json", cwd=project, env=clean_env())
    refused(
        proc, 2, "huge.json: results file is over 50.0 MiB, the most perfgate reads; check that it is the right file"
    )


def test_a_tier_name_longer_than_a_file_name_is_refused_before_measuring(project: Path) -> None:
    long = "t" * 300
    (project / "pyproject.toml").write_text(f"[tool.perfgate.tiers.{long}]\nsimulated = true\n", encoding="utf-8")
    before = snapshot(project)
    proc = perfgate("run", "--runtime", "sim", cwd=project, env=clean_env())
    clipped = "t" * 39 + "…"
    refused(
        proc,
        2,
        f"{project}/pyproject.toml + flags: invalid config at tiers.{clipped}: "
        f"name '{clipped}' is 300 characters long: {RULE}",
    )
    assert snapshot(project) == before


def test_an_unknown_perfgate_variable_is_a_warning_not_an_error(project: Path) -> None:
    proc = perfgate(
        "compare", "results/pro.json", cwd=project, env=clean_env(PERFGATE_SLACK_WEBHOOK="https://hooks.example/x")
    )
    assert proc.returncode == 0, proc.stderr
    assert error_lines(proc) == [
        "perfgate: warning: ignoring PERFGATE_SLACK_WEBHOOK: not a perfgate setting "
        "(settings are PERFGATE_<KEY>[__<KEY>], see docs/configuration.md)"
    ]


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["sim", "--port", "99999"],
            "sim: argument --port: a port is a number from 0 to 65535 (got '99999'); see perfgate sim --help",
        ),
        (
            ["sim", "--port", "0", "--tok-s", "nan"],
            "sim: argument --tok-s: expected a finite number above 0 (got 'nan'); see perfgate sim --help",
        ),
        (
            ["sim", "--port", "0", "--ttft-ms", "-40"],
            "sim: argument --ttft-ms: expected a finite number at least 0 (got '-40'); see perfgate sim --help",
        ),
        (
            ["run", "--runtime", "openai", "--base-url", "localhost:8080", "--out", "r.json"],
            "run: argument --base-url: expected http://HOST:PORT or https://HOST:PORT (got 'localhost:8080'); "
            "see perfgate run --help",
        ),
    ],
    ids=["sim port", "sim nan rate", "sim negative ttft", "malformed base url"],
)
def test_a_bad_argument_is_a_usage_error(project: Path, argv: list[str], line: str) -> None:
    before = snapshot(project)
    refused(perfgate(*argv, cwd=project, env=clean_env(), timeout=30), 2, line)
    assert snapshot(project) == before


def closed_pipe_run(project: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``perfgate argv`` with stdout a pipe whose reader is already gone (what ``| head -1`` becomes)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "perfgate", *argv],
            cwd=project,
            env=clean_env(),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)


def test_a_reader_leaving_the_pipe_is_not_an_error(project: Path) -> None:
    proc = closed_pipe_run(project, "compare", "results/pro.json", "--format", "md", "--gate-out", "gate.json")
    assert (proc.returncode, proc.stderr) == (0, "")  # the verdict's own code, and not a word about the pipe
    assert json.loads((project / "gate.json").read_text(encoding="utf-8"))["status"] == "pass"


def test_a_regression_keeps_its_exit_code_and_its_lines_when_the_reader_leaves(project: Path) -> None:
    write_model(project / "results" / "pro.json", make_result(seed=1, tier="pro", n=12, scale={"ttft_ms": 1.5}))
    proc = closed_pipe_run(project, "compare", "results/pro.json")
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 1


def test_compare_into_head_exits_quietly(project: Path) -> None:
    script = (
        f'"{sys.executable}" -m perfgate compare results/pro.json --format json | head -1; echo "${{PIPESTATUS[0]}}"'
    )
    proc = subprocess.run(
        ["bash", "-c", script], cwd=project, env=clean_env(), capture_output=True, text=True, timeout=120, check=False
    )
    first, status = proc.stdout.splitlines()
    assert first == "{"
    assert status == "0"
    assert proc.stderr == ""

"""Every command shown in README.md and docs/*.md, run for real in a copy of the project.

A ```bash block runs line by line, in document order, in one scratch copy of
the repository per document. The line before a block may say:

- ``<!-- mac-only -->``: needs a Mac, a real Ollama or GitHub; skipped with that reason;
- ``<!-- not-run: why -->``: skipped with the reason given (e.g. the test suite itself);
- ``<!-- exit: N -->``: the block is expected to end with exit code N.

Some blocks measure the simulator live and gate it against the committed
``baselines/sim.json``. Their verdict is the machine's, not the docs': on a
busy machine a TTFT a few ms late is a real regression of that run. So a
command that ended with perfgate's own ``gate: regression (exit 1)`` (and no
traceback) counts as having run as documented, and the block goes on, as it
would in a shell; every other non-zero exit fails the test. The gate's
decisions themselves are tested on synthetic results (test_cli_gate.py,
test_cli_compare.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = re.compile(r"<!--\s*(mac-only|not-run:[^>]*|exit:\s*\d+)\s*-->")
SKIP_DIRS = {
    ".git",
    ".nox",
    ".venv",
    "perf-results",
    "node_modules",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "__pycache__",
}


def bash_blocks(path: Path) -> list[tuple[str | None, list[str]]]:
    blocks: list[tuple[str | None, list[str]]] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```bash":
            previous = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            marker = MARKER.search(previous)
            body = []
            i += 1
            while lines[i].strip() != "```":
                body.append(lines[i].strip())
                i += 1
            joined: list[str] = []
            for line in body:  # a trailing backslash continues the command on the next line
                if joined and joined[-1].endswith("\\"):
                    joined[-1] = joined[-1][:-1] + " " + line
                else:
                    joined.append(line)
            blocks.append((marker.group(1) if marker else None, [b for b in joined if b and not b.startswith("#")]))
        i += 1
    return blocks


CASES = [
    pytest.param(doc, index, marker, commands, id=f"{doc.relative_to(ROOT)}#{index}")
    for doc in DOCUMENTS
    for index, (marker, commands) in enumerate(bash_blocks(doc))
]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {}


def project_copy(tmp_path_factory: pytest.TempPathFactory, cache: dict[str, Path], doc: Path) -> Path:
    key = str(doc)
    if key not in cache:
        target = tmp_path_factory.mktemp(doc.stem) / "project"
        shutil.copytree(ROOT, target, ignore=lambda _d, names: [n for n in names if n in SKIP_DIRS])
        git = ["git", "-c", "user.email=docs@test", "-c", "user.name=docs", "-c", "commit.gpgsign=false"]
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=target, check=True)
        subprocess.run([*git, "add", "-A"], cwd=target, check=True)
        subprocess.run([*git, "commit", "-qm", "docs test"], cwd=target, check=True)
        cache[key] = target
    return cache[key]


GUARD = "_PERFGATE_IN_DOCS_TEST"


def runs_the_test_suite(command: str) -> bool:
    """`./dev test`, `python3 -m nox` (default sessions) or `nox -s tests` would run this very test again."""
    words = command.split("#", 1)[0].split()
    if words[:1] in (["./dev"], ["dev"]) or words[:2] == ["python3", "dev"]:
        session = words[1 if words[0] != "python3" else 2 :][:1]
        return session in ([], ["test"], ["tests"])
    if "nox" not in command:
        return False
    return " -s " not in f"{command} " or " -s tests" in command


LIVE_REGRESSION = "gate: regression (exit 1)"


def judged_a_live_regression(proc: subprocess.CompletedProcess[str]) -> bool:
    """The command ran and perfgate's gate found a regression in what it measured (load can cause that)."""
    return proc.returncode == 1 and LIVE_REGRESSION in proc.stdout and "Traceback" not in proc.stderr


def test_docs_have_commands():
    assert len(CASES) >= 10


@pytest.mark.parametrize(("doc", "index", "marker", "commands"), CASES)
def test_command_block_runs(doc, index, marker, commands, tmp_path_factory, scratch):  # noqa: PLR0917 -- pytest params
    if marker == "mac-only":
        pytest.skip("needs a Mac, a real Ollama or GitHub")
    if marker and marker.startswith("not-run:"):
        pytest.skip(marker.removeprefix("not-run:").strip())
    if os.environ.get(GUARD):
        pytest.skip("already inside a docs-command run (the README's test command runs the suite)")
    commands = [c for c in commands if not runs_the_test_suite(c)]
    if not commands:
        pytest.skip("the block runs the test suite itself")
    expected = int(marker.split(":")[1]) if marker and marker.startswith("exit:") else 0
    cwd = project_copy(tmp_path_factory, scratch, doc)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        GUARD: "1",
    }
    for key in [k for k in env if k.startswith(("PERFGATE_", "GITHUB_"))]:
        del env[key]  # the docs' commands must work in a plain shell
    last = None
    for command in commands:
        last = subprocess.run(
            ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
        )
        if last.returncode != 0 and not judged_a_live_regression(last) and command != commands[-1]:
            break
    assert last is not None
    assert last.returncode == expected or (expected == 0 and judged_a_live_regression(last)), (
        f"{doc.name} block {index}: {last.args[-1]}\n{last.stdout[-2000:]}\n{last.stderr[-2000:]}"
    )


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("./dev test   # run the test suite", True),
        ("./dev", True),
        ("python3 dev test", True),
        ("./dev demo   # benchmark", False),
        ("./dev workflows", False),
        ("python3 -m nox", True),
        ("python3 -m nox -s demo", False),
        ("nox -s tests -- -k x", True),
        ("perfgate run --runtime sim", False),
    ],
)
def test_runs_the_test_suite_knows_the_readme_commands(command, expected):
    assert runs_the_test_suite(command) is expected

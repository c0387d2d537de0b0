"""The workflows' hardening, read from the files (issue 16): every `pip install` pinned by hash,
cancel-in-progress only for pull requests, the self-hosted jobs' environment, CODEOWNERS, Dependabot.

actionlint and zizmor (`nox -s workflows`) check the rest; these are the project's own rules.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.y*ml"))
PIN_FILES = sorted(GITHUB.glob("requirements-*.txt"))
CONSTRAINTS = GITHUB / "constraints.txt"

REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)(?P<marker>\s*;[^-\\]*)?")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")
SHELL_BREAKS = {";", "&&", "||", "|", "&", "(", ")"}


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), path
    return document


def run_steps(path: Path) -> list[tuple[str, str]]:
    """(job id, script) of every `run:` step of a workflow."""
    return [
        (job_id, step["run"])
        for job_id, job in load(path)["jobs"].items()
        for step in job.get("steps", [])
        if "run" in step
    ]


def commands(script: str) -> list[list[str]]:
    """A shell script as simple commands (words), split at newlines, `;`, `&&`, `||`, `|`."""
    found: list[list[str]] = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        current: list[str] = []
        for word in lexer:
            if word in SHELL_BREAKS:
                found.append(current)
                current = []
            else:
                current.append(word)
        found.append(current)
    return [command for command in found if command]


def pip_install_args(command: list[str]) -> list[str] | None:
    """The arguments after `install` of `pip install …` / `python -m pip install …`, else None."""
    for at, word in enumerate(command[:-1]):
        is_pip = Path(word).name in {"pip", "pip3"} or (word == "pip" and at > 0 and command[at - 1] == "-m")
        if is_pip and command[at + 1] == "install":
            return command[at + 2 :]
    return None


def requirement_lines(path: Path) -> list[str]:
    """A requirements file's requirements, one logical line each (continuations joined)."""
    joined = path.read_text(encoding="utf-8").replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def unpinned_requirements(path: Path) -> list[str]:
    """Lines of a requirements file that are not `name==version` with at least one sha256 hash."""
    return [line for line in requirement_lines(path) if not (REQUIREMENT.match(line) and HASH.search(line))]


PIP_FLAGS = {"--require-hashes", "--no-deps", "--no-index", "--no-build-isolation", "--quiet", "-q"}
PIP_OPTIONS_WITH_VALUE = {"-r", "--requirement", "--only-binary"}


def parse_install(args: list[str]) -> tuple[list[str], set[str], list[str]]:
    """(requirement files, flags, positional arguments) of `pip install ARGS`; ValueError on other options."""
    requirement_files: list[str] = []
    flags: set[str] = set()
    positional: list[str] = []
    words = iter(args)
    for word in words:
        if word in PIP_OPTIONS_WITH_VALUE:
            value = next(words, "")
            if word in {"-r", "--requirement"}:
                requirement_files.append(value)
        elif word in PIP_FLAGS:
            flags.add(word)
        elif word.startswith("-"):
            raise ValueError(f"option {word!r} is not one the pin check knows")
        else:
            positional.append(word)
    return requirement_files, flags, positional


def why_unpinned(args: list[str], root: Path = ROOT) -> str | None:
    """None when `pip install ARGS` installs only versions fixed by hash; else what is wrong."""
    try:
        requirement_files, flags, positional = parse_install(args)
    except ValueError as exc:
        return str(exc)
    if positional:
        # Only the checked-out project itself, with nothing resolved from an index.
        if positional == ["."] and {"--no-deps", "--no-index", "--no-build-isolation"} <= flags:
            return None
        return f"installs {' '.join(positional)} without a pinned, hashed requirements file"
    if not requirement_files or "--require-hashes" not in flags:
        return "not `--require-hashes -r FILE`"
    return next(filter(None, (why_file_unpinned(root / name) for name in requirement_files)), None)


def why_file_unpinned(path: Path) -> str | None:
    if not path.is_file():
        return f"{path.name}: missing"
    loose = unpinned_requirements(path)
    return f"{path.name}: not pinned by version and hash: {loose[0][:80]}" if loose else None


def all_pip_installs() -> list[tuple[str, str, list[str]]]:
    return [
        (path.name, job_id, args)
        for path in WORKFLOWS
        for job_id, script in run_steps(path)
        for command in commands(script)
        if (args := pip_install_args(command)) is not None
    ]


def test_every_pip_install_in_every_workflow_is_pinned_by_hash() -> None:
    installs = all_pip_installs()
    # ci.yml: lint, tests, tests-macos; perf.yml: measure (nox), gate (deps, then perfgate).
    assert len(installs) >= 6, installs
    problems = [f"{name} job {job}: {why}" for name, job, args in installs if (why := why_unpinned(args))]
    assert problems == []


def test_every_job_that_runs_nox_installs_it_from_the_hashed_pins() -> None:
    for path in WORKFLOWS:
        by_job: dict[str, list[list[str]]] = {}
        for job_id, script in run_steps(path):
            by_job.setdefault(job_id, []).extend(commands(script))
        for job_id, job_commands in by_job.items():
            runs_nox = any(command[0] == "nox" for command in job_commands)
            nox_pins = any(
                (args := pip_install_args(command)) is not None and ".github/requirements-nox.txt" in args
                for command in job_commands
            )
            assert nox_pins or not runs_nox, f"{path.name} job {job_id} runs nox it did not install from the pins"


@pytest.mark.parametrize(
    "script",
    [
        "python -m pip install nox",
        "pip install .",
        "python3 -m pip install --upgrade pip",
        "pip3 install -e .",
        "python -m pip install -r .github/requirements-nox.txt",
        "python -m pip install --require-hashes -r .github/no-such-file.txt",
        "python -m pip install --no-deps .",
        "mkdir -p x && python -m pip install \\\n  nox",
        'echo start; "$RUNNER_TEMP/venv/bin/python" -m pip install --quiet nox | tee log',
        "python -m pip install --require-hashes -r .github/requirements-nox.txt --index-url https://example.org",
    ],
)
def test_the_pin_check_refuses_an_unpinned_install(script: str) -> None:
    found = [args for command in commands(script) if (args := pip_install_args(command)) is not None]
    assert len(found) == 1, found
    assert why_unpinned(found[0]) is not None


def test_the_pin_check_refuses_a_requirements_file_without_hashes(tmp_path: Path) -> None:
    (tmp_path / "loose.txt").write_text("nox==2026.10.20\n", encoding="utf-8")
    (tmp_path / "range.txt").write_text("nox>=2026 --hash=sha256:" + "0" * 64 + "\n", encoding="utf-8")
    assert why_unpinned(["--require-hashes", "-r", "loose.txt"], root=tmp_path) is not None
    assert why_unpinned(["--require-hashes", "-r", "range.txt"], root=tmp_path) is not None


def test_the_pin_files_pin_every_requirement_by_version_and_hash() -> None:
    assert {path.name for path in PIN_FILES} >= {"requirements-nox.txt", "requirements-gate.txt"}
    for path in PIN_FILES:
        assert requirement_lines(path), path
        assert unpinned_requirements(path) == [], path
    names = {REQUIREMENT.match(line)["name"] for line in requirement_lines(GITHUB / "requirements-nox.txt")}  # type: ignore[index]
    assert "nox" in names
    names = {REQUIREMENT.match(line)["name"] for line in requirement_lines(GITHUB / "requirements-gate.txt")}  # type: ignore[index]
    # perfgate's dependencies (pyproject.toml) and its build backend: `pip install --no-deps .` needs all.
    assert {"httpx", "psutil", "pydantic", "scipy", "numpy", "tabulate", "setuptools"} <= names


def test_the_measure_constraints_are_the_gate_pins_without_hashes() -> None:
    def pins(path: Path) -> list[str]:
        return [REQUIREMENT.match(line)[0].strip() for line in requirement_lines(path)]  # type: ignore[index]

    assert pins(CONSTRAINTS) == pins(GITHUB / "requirements-gate.txt")
    assert not HASH.search(CONSTRAINTS.read_text(encoding="utf-8")), "PIP_CONSTRAINT with hashes breaks -e ."


def test_only_pull_requests_cancel_a_run_in_progress() -> None:
    for path in WORKFLOWS:
        concurrency = load(path)["concurrency"]
        assert concurrency["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}", path.name
        assert "github.event.pull_request.number" in concurrency["group"], path.name


def self_hosted_jobs() -> list[tuple[str, dict[str, Any]]]:
    jobs = [
        (f"{path.name}:{job_id}", job)
        for path in WORKFLOWS
        for job_id, job in load(path)["jobs"].items()
        if "self-hosted" in (job["runs-on"] if isinstance(job["runs-on"], list) else [job["runs-on"]])
    ]
    assert jobs, "the perf workflow measures on self-hosted runners"
    return jobs


def test_self_hosted_jobs_run_without_pip_cache_user_site_or_loose_versions() -> None:
    for name, job in self_hosted_jobs():
        env = job.get("env", {})
        assert env.get("PIP_NO_CACHE_DIR") == "1", name
        assert env.get("PYTHONNOUSERSITE") == "1", name
        assert str(env.get("PIP_CONSTRAINT", "")).endswith("/.github/constraints.txt"), name


def test_self_hosted_jobs_never_run_a_fork_and_only_read() -> None:
    for name, job in self_hosted_jobs():
        condition = job.get("if", "")
        assert "github.event.pull_request.head.repo.full_name == github.repository" in condition, name
        assert job.get("permissions") == {"contents": "read"}, name


def test_workflows_grant_nothing_by_default_and_pin_actions_by_sha() -> None:
    for path in WORKFLOWS:
        assert load(path)["permissions"] == {}, path.name
        text = path.read_text(encoding="utf-8")
        uses = re.findall(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", text, flags=re.M)
        assert uses, path.name
        for action, comment in uses:
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", action), action
            assert re.fullmatch(r"\s+# v\d+(\.\d+)*", comment), f"{action}: no version comment"


def test_no_expression_is_expanded_inside_a_run_script() -> None:
    for path in WORKFLOWS:
        for job_id, script in run_steps(path):
            assert "${{" not in script, f"{path.name} job {job_id}: pass it through env:"


def codeowners_rules() -> list[tuple[str, list[str]]]:
    rules = []
    for line in (GITHUB / "CODEOWNERS").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            pattern, *owners = line.split()
            rules.append((pattern, owners))
    return rules


def owners_of(path: str, rules: list[tuple[str, list[str]]]) -> list[str]:
    """The owners CODEOWNERS gives `path` (last match wins); only the pattern forms used here."""
    owners: list[str] = []
    for pattern, rule_owners in rules:
        anchored = pattern.lstrip("/")
        if (anchored.endswith("/") and path.startswith(anchored)) or path == anchored:
            owners = rule_owners
    return owners


@pytest.mark.parametrize(
    "path",
    [
        ".github/workflows/perf.yml",
        ".github/workflows/ci.yml",
        ".github/CODEOWNERS",
        ".github/dependabot.yml",
        ".github/requirements-gate.txt",
        ".github/constraints.txt",
        "perfgate/cli.py",
        "perfgate/publish/comment.py",
        "baselines/sim.json",
        "noxfile.py",
        "pyproject.toml",
        "tools/runner-job-hook.sh",
    ],
)
def test_codeowners_must_review_what_decides_the_gate(path: str) -> None:
    assert (ROOT / path).exists(), path
    owners = owners_of(path, codeowners_rules())
    assert owners, f"{path} has no code owner"
    assert all(re.fullmatch(r"@[\w.-]+(/[\w.-]+)?", owner) for owner in owners), owners


def test_dependabot_proposes_bumps_of_the_actions_and_the_pins() -> None:
    configured = load(GITHUB / "dependabot.yml")["updates"]
    updates = {(update["package-ecosystem"], update["directory"]): update for update in configured}
    assert ("github-actions", "/") in updates
    assert ("pip", "/.github") in updates, "the pin files live in .github/"
    for update in updates.values():
        assert update["cooldown"]["default-days"] >= 1, update

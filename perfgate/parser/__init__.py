"""The command line's parser: every command, its flags and their help, and the exit codes ``--help`` lists.

Split from ``perfgate.cli`` (which parses, builds the config, dispatches and
decides exit codes) so that each stays short; only ``perfgate.cli`` imports it.
``base`` holds what the commands share, ``run`` the measuring command's many flags.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from perfgate import __version__, flags
from perfgate.parser.base import EXIT_CODES_HELP, RUN_SIM_FLAGS, _choices, _command, _compare_flags, _Parser
from perfgate.parser.run import _add_run

if TYPE_CHECKING:
    from perfgate.parser.base import Sub

__all__ = ["EXIT_CODES_HELP", "RUN_SIM_FLAGS", "build_parser"]


def _add_compare(sub: Sub) -> None:
    compare = _command(sub, "compare", "compare", "compare results with their tiers' baselines; print verdicts")
    compare.add_argument("results", nargs="+", type=flags.path, metavar="RESULTS", help="results files or directories")
    compare.add_argument("--format", choices=["text", "md", "json"], default="text", help="stdout format")
    _compare_flags(compare)


def _add_baseline(sub: Sub) -> None:
    baseline = sub.add_parser("baseline", help="update or review the committed baselines")
    bsub = baseline.add_subparsers(dest="baseline_command", required=True, metavar="ACTION")
    update = _command(bsub, "update", "baseline", "write baselines/<tier>.json from results files", "execute_update")
    update.add_argument("--tier", type=flags.name("tier"), required=True, help="tier whose baseline is written")
    update.add_argument(
        "--from", dest="from_", nargs="+", type=flags.path, required=True, metavar="RESULTS", help="results files"
    )
    update.add_argument("--baselines-dir", type=flags.path, metavar="DIR", help="default: config baselines_dir")
    diff = _command(bsub, "diff", "baseline", "old vs new of every baseline changed since a git ref", "execute_diff")
    diff.add_argument("--base-ref", type=flags.git_ref, default="HEAD", help="git ref to compare with (default HEAD)")
    diff.add_argument("--baselines-dir", type=flags.path, metavar="DIR", help="default: config baselines_dir")
    diff.add_argument("--format", choices=["text", "md"], default="text", help="stdout format")


def _add_gate(sub: Sub) -> None:
    gate = _command(sub, "gate", "gate", "the CI gate: every tier's results, one report, PR comment, triage")
    gate.add_argument(
        "--results-dir", type=flags.path, required=True, metavar="DIR", help="directory holding every tier's results"
    )
    gate.add_argument("--baselines-dir", type=flags.path, metavar="DIR", help="default: config baselines_dir")
    gate.add_argument(
        "--expect-tiers",
        type=flags.names("tier"),
        metavar="A,B",
        help="tiers that must have results (missing = P1 failure)",
    )
    gate.add_argument(
        "--summary-out", type=flags.path, metavar="FILE", help="Markdown summary (default: DIR/summary.md)"
    )
    gate.add_argument("--comment", action="store_true", help="post/update the sticky PR comment")
    gate.add_argument("--triage", action="store_true", help="open/update/resolve triage entries")
    gate.add_argument(
        "--triage-ledger",
        type=flags.path,
        metavar="FILE",
        help="local JSON ledger instead of GitHub issues (default without a token: <results_dir>/triage-ledger.json)",
    )
    gate.add_argument("--pr", type=flags.positive_int, help="pull request number (default: from GITHUB_EVENT_PATH)")
    gate.add_argument("--repository", type=flags.repository, metavar="OWNER/NAME", help="default: GITHUB_REPOSITORY")
    gate.add_argument(
        "--base-ref", type=flags.git_ref, help="git ref for the baseline diff (default: origin/$GITHUB_BASE_REF)"
    )
    gate.add_argument(
        "--confirmations",
        action="append",
        type=flags.path,
        metavar="PATH",
        help="A/B confirmation files (or directories of them): an app scenario's regression is filed only when "
        "its re-measure confirmed it (repeatable)",
    )


def _add_triage(sub: Sub) -> None:
    triage = sub.add_parser("triage", help="triage entries")
    tsub = triage.add_subparsers(dest="triage_command", required=True, metavar="ACTION")
    tlist = _command(tsub, "list", "triage", "print open triage entries")
    tlist.add_argument(
        "--triage-ledger",
        type=flags.path,
        metavar="FILE",
        help="read this ledger (default without a token: "
        "<results_dir>/triage-ledger.json; with GITHUB_TOKEN: the repository's issues)",
    )
    tlist.add_argument("--repository", type=flags.repository, metavar="OWNER/NAME", help="default: GITHUB_REPOSITORY")
    tlist.add_argument("--all", action="store_true", help="include resolved entries")


def _add_confirm(sub: Sub) -> None:
    confirm = _command(
        sub, "confirm", "confirm", "A/B re-measure app scenarios: the base commit and the current one, interleaved"
    )
    confirm.add_argument(
        "--scenario", action="append", type=flags.name("scenario"), metavar="NAME", help="app scenario (repeatable)"
    )
    confirm.add_argument(
        "--gate-report", type=flags.path, metavar="FILE", help="re-measure the app scenarios this gate.json flags"
    )
    confirm.add_argument(
        "--base", type=flags.git_ref, metavar="REF", help="base commit (default: the tier's baseline's git_sha)"
    )
    confirm.add_argument(
        "--pairs", dest="confirm_pairs", type=int, metavar="N", help="pairs per scenario (gate.confirm.pairs)"
    )
    confirm.add_argument(
        "--warmup", dest="confirm_warmup", type=int, metavar="N", help="warm-ups of each side (gate.confirm.warmup)"
    )
    confirm.add_argument("--tier", type=flags.name("tier"), help="tier (default: the gate report's, else detected)")
    confirm.add_argument("--runtime", choices=_choices("kind"), help="runtime kind (default: config runtime.kind)")
    confirm.add_argument("--base-url", type=flags.base_url, help="runtime base URL (default: config runtime.base_url)")
    confirm.add_argument("--model", help="model name as the runtime knows it")
    confirm.add_argument(
        "--out", type=flags.path, metavar="FILE", help="default: <results_dir>/confirmation-<tier>.json"
    )


def _add_history(sub: Sub) -> None:
    history = sub.add_parser("history", help="the default branch's runs kept, and drift found in them")
    hsub = history.add_subparsers(dest="history_command", required=True, metavar="ACTION")
    store_help = "history store directory (default: config history.store)"
    record = _command(hsub, "record", "history", "add results files to the history store", "execute_record")
    record.add_argument("results", nargs="+", type=flags.path, metavar="RESULTS", help="results files or directories")
    record.add_argument("--store", type=flags.path, metavar="DIR", help=store_help)
    record.add_argument("--gate", type=flags.path, metavar="GATE_JSON", help="the gate.json whose verdicts to keep")
    record.add_argument("--branch", help="branch of the runs (default: GITHUB_REF_NAME)")
    record.add_argument("--run-id", help="CI run id (default: GITHUB_RUN_ID)")
    record.add_argument("--commit", type=flags.git_ref, metavar="SHA", help="commit of a results file without git_sha")
    drift = _command(
        hsub, "drift", "history", "change points and drift since the baseline; exit 1 on drift", "execute_drift"
    )
    drift.add_argument("--store", type=flags.path, metavar="DIR", help=store_help)
    drift.add_argument("--baselines-dir", type=flags.path, metavar="DIR", help="default: config baselines_dir")
    drift.add_argument("--branch", help="only runs recorded on this branch (default: every entry)")
    drift.add_argument("--format", choices=["text", "json"], default="text", help="stdout format")
    drift.add_argument("--all", action="store_true", help="list every series, not only those that moved")
    drift.add_argument(
        "--triage-ledger", type=flags.path, metavar="FILE", help="default: <results_dir>/triage-ledger.json"
    )
    drift.add_argument("--no-triage", action="store_true", help="do not open drift triage entries")
    _add_history_site(hsub)
    push = _command(hsub, "push", "history", "commit the store's new entries on a git branch and push", "execute_push")
    push.add_argument("--store", type=flags.path, metavar="DIR", help=store_help)
    push.add_argument(
        "--branch", default="perfgate-history", help="branch holding the store (default perfgate-history)"
    )
    push.add_argument("--remote", default="origin", help="remote to push to (default origin)")
    push.add_argument("--repo", type=flags.path, metavar="DIR", help="the repository (default: working directory)")


def _add_report(sub: Sub) -> None:
    report = _command(sub, "report", "report", "write the performance report (Markdown) from results files")
    report.add_argument("results", nargs="+", type=flags.path, metavar="RESULTS", help="results files or directories")
    report.add_argument("--baselines-dir", type=flags.path, metavar="DIR", help="also compare with these baselines")
    report.add_argument("--title", default="Performance Report", help="report title")
    report.add_argument("--out", type=flags.path, metavar="FILE", help="write here (default: stdout)")
    report.add_argument(
        "--copy-raw", type=flags.path, metavar="DIR", help="copy the results files here with timestamped names"
    )
    report.add_argument(
        "--expect-tiers", type=flags.names("tier"), metavar="A,B", help="tiers the report must cover (missing = P1)"
    )
    report.add_argument("--date", help="date shown as generated (default: today, UTC)")


def _add_host(sub: Sub) -> None:
    host = _command(sub, "host", "host", "print this machine's facts and its tier")
    host.add_argument("--tier", type=flags.name("tier"), help="force a tier")
    host.add_argument("--json", action="store_true", help="print JSON")


def _add_doctor(sub: Sub) -> None:
    from perfgate.commands.doctor import CHECK_NAMES, DEFAULT_MAX_OTHER_CPU  # noqa: PLC0415 -- the names' one source

    doctor = _command(sub, "doctor", "doctor", "check that this machine is fit to measure; say how to fix what is not")
    doctor.add_argument("--runtime", choices=_choices("kind"), help="runtime kind (default: config runtime.kind)")
    doctor.add_argument("--base-url", type=flags.base_url, help="runtime base URL (default: config runtime.base_url)")
    doctor.add_argument("--model", help="model name as the runtime knows it")
    doctor.add_argument("--model-digest", metavar="SHA256", help="the model's expected digest (whole or 12+ digits)")
    doctor.add_argument("--runtime-pid", type=int, help="PID of the runtime (default: the process on its port)")
    doctor.add_argument("--process-name", help="find the runtime process by this name")
    doctor.add_argument("--tier", type=flags.name("tier"), help="force a tier instead of detecting it")
    doctor.add_argument("--runner-labels", metavar="A,B", help="the runner's labels (default: $RUNNER_LABELS)")
    doctor.add_argument(
        "--workspace", type=flags.path, metavar="DIR", help="where jobs run (default: $GITHUB_WORKSPACE, else .)"
    )
    doctor.add_argument(
        "--max-other-cpu",
        type=flags.positive_float,
        default=DEFAULT_MAX_OTHER_CPU,
        metavar="PERCENT",
        help=f"another process using this much of a core is heavy (default {DEFAULT_MAX_OTHER_CPU:g})",
    )
    doctor.add_argument("--skip", action="append", choices=CHECK_NAMES, metavar="CHECK", help="skip a check")
    doctor.add_argument("--format", choices=["text", "json"], default="text", help="stdout format")


def _add_sim(sub: Sub) -> None:
    from perfgate.sim.profile import FAULTS, SimProfile  # noqa: PLC0415 -- the profile is the flags' one source

    sim = _command(sub, "sim", "sim", "serve the simulated runtime (Ollama + OpenAI APIs) on loopback")
    sim.add_argument("--host", default="127.0.0.1", help="bind address (loopback by default)")
    sim.add_argument("--port", type=flags.port, default=11434, help="port (0 picks a free one; default 11434)")
    sim.add_argument("--model", help="model name served (default: config runtime.model)")
    for name, field in SimProfile.model_fields.items():
        if name == "model":
            continue
        flag = f"--{name.replace('_', '-')}"
        if name == "fault":
            sim.add_argument(flag, choices=list(FAULTS), help=field.description)
        else:
            kind = int if field.annotation in (int, "int") else float
            sim.add_argument(
                flag, type=flags.bounded(field, kind), help=f"{field.description} (default {field.default})"
            )


def _add_init(sub: Sub) -> None:
    init = _command(
        sub, "init", "init", "put the gate into an app's repository: perfgate.toml, the perf workflow, baselines/"
    )
    init.add_argument("--dir", type=flags.path, default=".", metavar="DIR", help="the repository (default: .)")
    init.add_argument(
        "--runtime", choices=["ollama", "openai"], help="runtime kind to look for (default: config runtime.kind)"
    )
    init.add_argument(
        "--base-url", type=flags.base_url, help="where the runtime answers (default: config runtime.base_url)"
    )
    init.add_argument(
        "--model", help="model the app uses (default: config runtime.model if served, else the first served)"
    )
    init.add_argument("--dry-run", action="store_true", help="print the files it would write; write nothing")
    init.add_argument("--force", action="store_true", help="overwrite files that exist (never without it)")


def _add_proxy(sub: Sub) -> None:
    proxy = _command(
        sub, "proxy", "proxy", "measuring proxy in front of a runtime: forward every request, record each one"
    )
    proxy.add_argument("--port", type=flags.port, required=True, help="port to listen on (0 picks a free one)")
    proxy.add_argument("--host", default="127.0.0.1", help="bind address (loopback by default)")
    proxy.add_argument(
        "--upstream",
        type=flags.base_url,
        metavar="URL",
        help="the runtime's base URL (default: config runtime.base_url)",
    )
    proxy.add_argument(
        "--record",
        type=flags.path,
        required=True,
        metavar="FILE",
        help="append one JSON line per completed request to FILE",
    )


# ---------------------------------------------------------------- history site (issue 19: the trend page)


def _add_history_site(hsub: Sub) -> None:
    site = _command(hsub, "site", "history_site", "write the trend page (static HTML) from the history store")
    site.add_argument(
        "--store", type=flags.path, metavar="DIR", help="history store directory (default: config history.store)"
    )
    site.add_argument("--out", type=flags.path, required=True, metavar="DIR", help="write the page's files here")
    site.add_argument(
        "--baselines", type=flags.path, metavar="DIR", help="shade each baseline's band (default: config baselines_dir)"
    )
    site.add_argument(
        "--repo-url",
        type=flags.base_url,
        metavar="URL",
        help="link each commit to URL/commit/SHA (default: $GITHUB_SERVER_URL/$GITHUB_REPOSITORY)",
    )
    site.add_argument("--title", default="perfgate: performance history", help="the page's title")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="perfgate",
        description="Performance regression gate for apps that run a local LLM.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"perfgate {__version__}")
    parser.add_argument(
        "--config",
        type=flags.path,
        metavar="FILE",
        help="TOML config (default: ./perfgate.toml, else [tool.perfgate] in ./pyproject.toml)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    adders = (
        _add_init,
        _add_run,
        _add_compare,
        _add_baseline,
        _add_gate,
        _add_confirm,
        _add_triage,
        _add_history,
        _add_report,
        _add_host,
        _add_doctor,
        _add_sim,
        _add_proxy,
    )
    for add in adders:
        add(sub)
    return parser

"""``perfgate run``'s flags: the measuring command has the most, so it has its own module."""

from __future__ import annotations

import argparse

from perfgate import flags
from perfgate.parser.base import Sub, _choices, _command, _compare_flags


def _add_run(sub: Sub) -> None:
    run = _command(sub, "run", "run", "measure TTFT, throughput and memory; write a results file")
    run.add_argument("--runtime", choices=_choices("kind"), help="runtime kind (default: config runtime.kind)")
    run.add_argument("--base-url", type=flags.base_url, help="runtime base URL (default: config runtime.base_url)")
    run.add_argument("--model", help="model name as the runtime knows it")
    run.add_argument(
        "--scenario",
        action="append",
        type=flags.name("scenario"),
        metavar="NAME",
        help="scenario to run (repeatable; default all); with `-- CMD`, the app scenario's name (default 'app')",
    )
    run.add_argument("--runs", type=int, help="measured requests per scenario")
    run.add_argument("--warmup", type=int, help="discarded warm-up requests per scenario")
    run.add_argument("--tier", type=flags.name("tier"), help="tier name (default: detected from the host)")
    run.add_argument(
        "--out", type=flags.path, metavar="FILE", help="results file (default: <results_dir>/results-<tier>.json)"
    )
    run.add_argument("--runtime-pid", type=int, help="PID of the runtime to sample memory from")
    run.add_argument("--process-name", help="find the runtime process by this name")
    run.add_argument("--model-size", choices=_choices("model_size"), help="llamacpp: generated model to serve")
    run.add_argument(
        "--gguf", type=flags.path, metavar="FILE", help="llamacpp: serve this GGUF instead of a generated model"
    )
    for key, kind, text in (
        ("ttft-ms", float, "time to first token, ms"),
        ("tok-s", float, "decode rate, tokens/s"),
        ("jitter-cv", float, "timing noise CV"),
        ("load-ms", float, "cold load time, ms"),
        ("ballast-mb", int, "runner child memory, MiB"),
    ):
        run.add_argument(f"--sim-{key}", type=kind, help=f"simulated runtime: {text}")
    run.add_argument("--compare", action="store_true", help="then compare with the tier's baseline (exit = gate's)")
    run.add_argument(
        "--until-conclusive",
        action="store_true",
        default=None,
        help="add runs to scenarios whose verdict is in doubt, look again (needs the tier's baseline)",
    )
    run.add_argument("--max-runs", type=int, help="with --until-conclusive: runs per scenario at most")
    run.add_argument("--max-minutes", type=float, help="with --until-conclusive: time budget for extra runs")
    run.add_argument(
        "--for-baseline", action="store_true", help="measure gate.baseline_runs runs (default 15) unless --runs"
    )
    run.add_argument(
        "--ab-confirm",
        action="store_true",
        help="with --compare: A/B re-measure the app scenarios the gate flags (perfgate confirm), "
        "where gate.confirm.when allows; the exit code stays the gate's",
    )
    run.add_argument(
        "--request-timeout",
        type=float,
        metavar="S",
        help="whole-request deadline in seconds: a request still streaming after it fails as 'timeout' "
        "(default: runtime.request_timeout_s)",
    )
    run.add_argument(
        "--run-timeout",
        type=float,
        metavar="S",
        help="whole-run deadline in seconds: the run stops, keeping what it measured (default: runtime.run_timeout_s)",
    )
    run.add_argument(
        "--app-timeout",
        type=flags.positive_float,
        metavar="S",
        help="app scenarios: a run of the app's command lasting longer is killed (default: scenario timeout_s)",
    )
    _compare_flags(run)
    run.add_argument(
        "app_command",
        nargs=argparse.REMAINDER,
        metavar="-- CMD [ARGS ...]",
        help=(
            "the app's own benchmark command, run once per warm-up and measured run with OLLAMA_HOST, "
            "OPENAI_BASE_URL and PERFGATE_PROXY_URL pointing at perfgate's measuring proxy in front of the runtime"
        ),
    )
    run.set_defaults(format="text")

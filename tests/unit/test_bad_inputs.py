"""Bad input is rejected at the door (issue 15): each case's exit code, its one line, and no good file changed.

Every case runs ``perfgate.cli.main`` in a project directory holding good
results and baselines, with one bad thing added (a file, a flag, a variable),
and checks the exit code, the exact ``perfgate:`` line on stderr, that no
traceback was printed, and that every file is byte for byte what it was.
The same inputs through a real process are in
``tests/integration/test_bad_inputs_cli.py``.
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support.docs import quoted
from support.synthetic import baseline_of, make_result, write_baselines

import perfgate.files
from perfgate.cli import main
from perfgate.config import load_config, unknown_env
from perfgate.contracts.figures import NON_NEGATIVE_METRICS, POSITIVE_METRICS
from perfgate.contracts.results import MetricSummary, Sample
from perfgate.errors import BadFileError, ConfigError, ProtocolError
from perfgate.files import dumps_model, parse_model, read_text_limited, write_model
from perfgate.metrics import METRIC_UNITS
from perfgate.runtimes.stream_parsers import optional_int, optional_ms_as_ns

RULE = "use at most 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
LONG = "x" * 300
CLIPPED = "x" * 39 + "…"


# ---------------------------------------------------------------- a project with good files, and bad ones


def good_project(root: Path) -> None:
    """results/pro.json and baselines/pro.json, both good (the files no bad input may change)."""
    write_model(root / "results" / "pro.json", make_result(seed=1, tier="pro", n=12))
    write_baselines(root / "baselines", baseline_of(make_result(seed=2, tier="pro", n=15)))


def json_of(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def write_json(path: Path, data: object) -> None:
    """Written the way a careless tool would: Python's json, which spells NaN and Infinity."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def bad_results(root: Path, **sample: object) -> str:
    """bad.json: the good results with sample 3 of scenario 0 ('short-explain') changed."""
    data = json_of(root / "results" / "pro.json")
    data["scenarios"][0]["samples"][3].update(sample)
    write_json(root / "bad.json", data)
    return "bad.json"


def bad_baseline(root: Path, metric: str, value: float) -> None:
    """baselines/pro.json with value 2 of short-explain's ``metric`` replaced (the bad file of the case)."""
    data = json_of(root / "baselines" / "pro.json")
    data["samples"]["short-explain"][metric][2] = value
    write_json(root / "baselines" / "pro.json", data)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@dataclass(frozen=True)
class Case:
    """One bad input: ``setup`` writes what it needs into the project and returns the command line."""

    name: str
    setup: Callable[[Path], list[str]]
    code: int
    line: str  # the exact stderr line, without "perfgate: "; {root} is the project directory
    env: dict[str, str] = field(default_factory=dict)


def _compare(*extra: str) -> list[str]:
    return ["compare", *extra, "--baselines-dir", "baselines"]


def _results_case(name: str, line: str, **sample: object) -> Case:
    return Case(name, lambda root: _compare(bad_results(root, **sample)), 2, line)


def _field(field_name: str, message: str) -> str:
    return (
        f"bad.json: invalid results file at field 'scenarios.0.samples.3.{field_name}' "
        f"(scenario 'short-explain', sample 3): {message}"
    )


def _pyproject(text: bytes) -> Callable[[Path], None]:
    def write(root: Path) -> None:
        (root / "pyproject.toml").write_bytes(text)

    return write


def _with(write: Callable[[Path], None], argv: list[str]) -> Callable[[Path], list[str]]:
    def setup(root: Path) -> list[str]:
        write(root)
        return argv

    return setup


def _argv(*argv: str) -> Callable[[Path], list[str]]:
    return lambda _root: list(argv)


def _deep_json(root: Path) -> list[str]:
    (root / "deep.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    return _compare("deep.json")


def _not_utf8_results(root: Path) -> list[str]:
    (root / "latin1.json").write_bytes('{"host": "Ross\'s Mac — café"}'.encode("latin-1", errors="replace"))
    return _compare("latin1.json")


def _tier_in_results(root: Path) -> list[str]:
    data = json_of(root / "results" / "pro.json")
    data["tier"] = data["fingerprint"]["tier"] = "../../etc/pro"
    write_json(root / "bad.json", data)
    return _compare("bad.json")


def _scenario_in_baseline(root: Path) -> list[str]:
    data = json_of(root / "baselines" / "pro.json")
    data["samples"]["short explain | `x`"] = data["samples"].pop("short-explain")
    write_json(root / "baselines" / "pro.json", data)
    return _compare("results/pro.json")


NOT_UTF8_TOML = "[tool.perfgate]\nruns = 5  # café\n".encode("latin-1")
TOML_ERROR = "{root}/pyproject.toml: config file is not UTF-8 text (byte 0xe9 at offset 31); save it as UTF-8"

CASES = [
    # -- 1. samples and baselines: NaN, infinite, 0 or negative where impossible, named at the door
    _results_case("nan ttft", _field("ttft_ms", "Input should be a finite number (got nan)"), ttft_ms=math.nan),
    _results_case("infinite e2e", _field("e2e_ms", "Input should be a finite number (got inf)"), e2e_ms=math.inf),
    _results_case("negative ttft", _field("ttft_ms", "Input should be greater than 0 (got -12.5)"), ttft_ms=-12.5),
    _results_case("zero e2e", _field("e2e_ms", "Input should be greater than 0 (got 0.0)"), e2e_ms=0.0),
    _results_case(
        "zero decode rate", _field("decode_tok_s", "Input should be greater than 0 (got 0.0)"), decode_tok_s=0.0
    ),
    _results_case(
        "zero memory",
        _field("peak_runtime_rss_mb", "Input should be greater than 0 (got 0.0)"),
        peak_runtime_rss_mb=0.0,
    ),
    _results_case(
        "negative tokens",
        _field("output_tokens", "Input should be greater than or equal to 0 (got -3)"),
        output_tokens=-3,
    ),
    _results_case(
        "negative load", _field("load_ms", "Input should be greater than or equal to 0 (got -1.0)"), load_ms=-1.0
    ),
    _results_case(
        "nan app figure",
        _field("app_metrics.tokens", "Input should be a finite number (got nan)"),
        app_metrics={"tokens": math.nan},
    ),
    Case(
        "nan in a baseline",
        _with(lambda root: bad_baseline(root, "ttft_ms", math.nan), _compare("results/pro.json")),
        2,
        "baselines/pro.json: invalid baseline file at field 'samples.short-explain.ttft_ms.2': "
        "Input should be a finite number (got nan)",
    ),
    Case(
        "negative ttft in a baseline",
        _with(lambda root: bad_baseline(root, "ttft_ms", -4.0), _compare("results/pro.json")),
        2,
        "baselines/pro.json: invalid baseline file at field 'samples.short-explain': value 2 of ttft_ms is -4.0: "
        "a measured ttft_ms is above 0; re-make the baseline from good results",
    ),
    Case(
        "baseline update from a NaN sample",
        lambda root: ["baseline", "update", "--tier", "pro", "--from", bad_results(root, ttft_ms=math.nan)],
        2,
        _field("ttft_ms", "Input should be a finite number (got nan)"),
    ),
    # -- 2. crashes that become clear errors
    Case("deeply nested JSON", _deep_json, 2, "deep.json: results file is nested too deeply to be a results file"),
    Case(
        "results not UTF-8",
        _not_utf8_results,
        2,
        "latin1.json: results file is not UTF-8 text (byte 0xe9 at offset 26); save it as UTF-8",
    ),
    *(
        Case(f"pyproject not UTF-8: {argv[0]}", _with(_pyproject(NOT_UTF8_TOML), argv), 2, TOML_ERROR)
        for argv in (
            _compare("results/pro.json"),
            ["report", "results/pro.json"],
            ["baseline", "update", "--tier", "pro", "--from", "results/pro.json"],
            ["gate", "--results-dir", "results"],
            ["triage", "list", "--triage-ledger", "ledger.json"],
        )
    ),
    Case(
        "pyproject nested too deeply",
        _with(_pyproject(b"[tool.perfgate]\nx = " + b"[" * 5000 + b"]" * 5000 + b"\n"), _compare("results/pro.json")),
        2,
        "{root}/pyproject.toml: cannot read config: its arrays or tables are nested too deeply",
    ),
    Case(
        "pyproject over 1 MiB",
        _with(_pyproject(b"[tool.perfgate]\n#" + b"x" * 2**20 + b"\n"), _compare("results/pro.json")),
        2,
        "{root}/pyproject.toml: config file is over 1.0 MiB, the most perfgate reads; check that it is the right file",
    ),
    Case(
        "NaN in the config",
        _with(_pyproject(b"[tool.perfgate.sim]\nttft_ms = nan\n"), _compare("results/pro.json")),
        2,
        "{root}/pyproject.toml + flags: invalid config at sim.ttft_ms: Input should be a finite number (got nan)",
    ),
    # -- tier and scenario names, at every door
    Case(
        "tier name with a space in the config",
        _with(_pyproject(b'[tool.perfgate.tiers."my tier"]\ndescription = "x"\n'), _compare("results/pro.json")),
        2,
        f"{{root}}/pyproject.toml + flags: invalid config at tiers.my tier: name 'my tier' is not valid: {RULE}",
    ),
    Case(
        "scenario name longer than a file name in the config",
        _with(_pyproject(f'[tool.perfgate.scenarios.{LONG}]\nprompt = "x"\n'.encode()), _compare("results/pro.json")),
        2,
        f"{{root}}/pyproject.toml + flags: invalid config at scenarios.{CLIPPED}: "
        f"name '{CLIPPED}' is 300 characters long: {RULE}",
    ),
    Case(
        "--tier longer than a file name",
        _argv("baseline", "update", "--tier", LONG, "--from", "results/pro.json"),
        2,
        f"baseline update: argument --tier: tier name '{CLIPPED}' is 300 characters long: {RULE}; "
        "see perfgate baseline update --help",
    ),
    Case(
        "--scenario with a slash",
        _argv("run", "--scenario", "../x"),
        2,
        f"run: argument --scenario: scenario name '../x' is not valid: {RULE}; see perfgate run --help",
    ),
    Case(
        "--expect-tiers with Markdown",
        _argv("compare", "results/pro.json", "--expect-tiers", "pro,**x**"),
        2,
        f"compare: argument --expect-tiers: tier name '**x**' is not valid: {RULE}; see perfgate compare --help",
    ),
    Case(
        "tier name in a results file",
        _tier_in_results,
        2,
        f"bad.json: invalid results file at field 'tier': name '../../etc/pro' is not valid: {RULE} (+1 more)",
    ),
    Case(
        "scenario name in a baseline",
        _scenario_in_baseline,
        2,
        f"baselines/pro.json: invalid baseline file at field 'samples.short explain | `x`.[key]': "
        f"name 'short explain | `x`' is not valid: {RULE}",
    ),
    # -- 3. PERFGATE_* variables: the known ones stay strict
    Case(
        "misspelt key of a known section",
        _argv(*_compare("results/pro.json")),
        2,
        "defaults + PERFGATE_* env + flags: invalid config at runtime.baseurl: "
        "Extra inputs are not permitted (got 'x')",
        env={"PERFGATE_RUNTIME__BASEURL": "x"},
    ),
    Case(
        "malformed base URL from the environment",
        _argv(*_compare("results/pro.json")),
        2,
        "defaults + PERFGATE_* env + flags: invalid config at runtime.base_url: 'localhost:11434' is not a base URL: "
        "expected http://HOST:PORT or https://HOST:PORT",
        env={"PERFGATE_RUNTIME__BASE_URL": "localhost:11434"},
    ),
    # -- 4. every argument
    *(
        Case(
            f"sim {' '.join(argv)}",
            _argv("sim", *argv),
            2,
            f"sim: argument {argv[0]}: {message} (got {argv[1]!r}); see perfgate sim --help",
        )
        for argv, message in (
            (["--port", "99999"], "a port is a number from 0 to 65535"),
            (["--port", "-1"], "a port is a number from 0 to 65535"),
            (["--tok-s", "-1"], "expected a finite number above 0"),
            (["--tok-s", "nan"], "expected a finite number above 0"),
            (["--ttft-ms", "inf"], "expected a finite number at least 0"),
            (["--jitter-cv", "-0.5"], "expected a finite number at least 0"),
            (["--ballast-mb", "-64"], "expected a whole number at least 0"),
            (["--fault-after", "1.5"], "expected a whole number at least 0"),
        )
    ),
    Case(
        "proxy port",
        _argv("proxy", "--port", "70000", "--record", "r.jsonl"),
        2,
        "proxy: argument --port: a port is a number from 0 to 65535 (got '70000'); see perfgate proxy --help",
    ),
    Case(
        "malformed --base-url",
        _argv("run", "--base-url", "localhost:11434"),
        2,
        "run: argument --base-url: expected http://HOST:PORT or https://HOST:PORT (got 'localhost:11434'); "
        "see perfgate run --help",
    ),
    Case(
        "--base-url port out of range",
        _argv("run", "--base-url", "http://127.0.0.1:99999"),
        2,
        "run: argument --base-url: the port must be a number from 1 to 65535 (got 'http://127.0.0.1:99999'); "
        "see perfgate run --help",
    ),
    Case(
        "--upstream with spaces",
        _argv("proxy", "--port", "0", "--record", "r.jsonl", "--upstream", "http://exa mple"),
        2,
        "proxy: argument --upstream: a URL holds no spaces or control characters (got 'http://exa mple'); "
        "see perfgate proxy --help",
    ),
    Case(
        "--app-timeout NaN",
        _argv("run", "--app-timeout", "nan"),
        2,
        "run: argument --app-timeout: expected a finite number above 0 (got 'nan'); see perfgate run --help",
    ),
    Case(
        "--runtime-pid negative",
        _argv("run", "--runtime-pid", "-5"),
        2,
        "defaults + flags: invalid config at runtime.pid: Input should be greater than or equal to 1 (got -5)",
    ),
    Case(
        "run --sim-tok-s NaN",
        _argv("run", "--runtime", "sim", "--sim-tok-s", "nan"),
        2,
        "defaults + flags: invalid config at sim.tok_s: Input should be a finite number (got nan)",
    ),
    Case(
        "run --sim-ttft-ms negative",
        _argv("run", "--runtime", "sim", "--sim-ttft-ms", "-5"),
        2,
        "defaults + flags: invalid config at sim.ttft_ms: Input should be greater than or equal to 0 (got -5.0)",
    ),
    Case(
        "--max-minutes infinite",
        _argv("run", "--max-minutes", "inf"),
        2,
        "defaults + flags: invalid config at sequential.max_minutes: Input should be a finite number (got inf)",
    ),
    Case(
        "--pr 0",
        _argv("gate", "--results-dir", "results", "--pr", "0"),
        2,
        "gate: argument --pr: expected a whole number above 0 (got '0'); see perfgate gate --help",
    ),
    Case(
        "--repository without an owner",
        _argv("gate", "--results-dir", "results", "--repository", "app"),
        2,
        "gate: argument --repository: expected OWNER/NAME (got 'app'); see perfgate gate --help",
    ),
    Case(
        "--base-ref that git would read as an option",
        _argv("baseline", "diff", "--base-ref=--output=/tmp/x"),
        2,
        "baseline diff: argument --base-ref: expected a git ref such as HEAD, main or origin/main "
        "(got '--output=/tmp/x'); see perfgate baseline diff --help",
    ),
    Case(
        "a path longer than the OS allows",
        _argv("compare", LONG),
        2,
        f"compare: argument RESULTS: a file name is at most 255 bytes long, one here is 300 (got '{CLIPPED}'); "
        "see perfgate compare --help",
    ),
    Case(
        "missing required flag",
        _argv("gate"),
        2,
        "gate: the following arguments are required: --results-dir; see perfgate gate --help",
    ),
]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith(("PERFGATE_", "GITHUB_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    good_project(tmp_path)
    return tmp_path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own exit, on a bad flag
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_is_refused_with_one_line_and_nothing_changed(
    case: Case, project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    argv = case.setup(project)
    before = snapshot(project)
    code, err = run(argv, capsys)
    assert "Traceback" not in err
    assert err.splitlines() == [f"perfgate: {case.line.format(root=project)}"]
    assert code == case.code
    assert snapshot(project) == before


# ---------------------------------------------------------------- what is not an error


def test_an_unknown_perfgate_variable_is_ignored_with_one_warning(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERFGATE_SLACK_WEBHOOK", "https://hooks.example/x")
    monkeypatch.setenv("PERFGATE_RUNS", "7")  # a setting: read, not named
    monkeypatch.setenv("PERFGATE_PROXY_URL", "http://127.0.0.1:1")  # perfgate's own, for an app: not named
    code, err = run(_compare("results/pro.json"), capsys)
    assert code == 0
    assert err.splitlines() == [
        "perfgate: warning: ignoring PERFGATE_SLACK_WEBHOOK: not a perfgate setting "
        "(settings are PERFGATE_<KEY>[__<KEY>], see docs/configuration.md)"
    ]


def test_unknown_variables_are_named_and_only_the_settings_are_read() -> None:
    environ = {"PERFGATE_SLACK_WEBHOOK": "x", "PERFGATE_RUNS": "7", "PERFGATE_CONFIG": "", "PERFGATE_": "y"}
    assert unknown_env(environ) == ["PERFGATE_", "PERFGATE_SLACK_WEBHOOK"]
    assert load_config(environ=environ, cwd=Path("/nonexistent")).runs == 7


ONE_SESSION_NOTE = (
    "perfgate: note: baselines/pro.json is one measuring session; the gate allows for a session offset it cannot "
    "see (docs/statistics.md, Sessions). Three sessions make the gate surer: nox -s baseline -- --tier pro"
)


def test_baseline_update_replaces_a_corrupt_baseline(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The way out of a NaN baseline written by an older perfgate: update it from good results."""
    bad_baseline(project, "ttft_ms", math.nan)
    write_model(project / "results" / "pro.json", make_result(seed=3, tier="pro", n=12))
    code, err = run(["baseline", "update", "--tier", "pro", "--from", "results/pro.json"], capsys)
    assert code == 0
    assert err.splitlines() == [
        "perfgate: warning: the baseline being replaced is not readable, so no diff is shown: baselines/pro.json: "
        "invalid baseline file at field 'samples.short-explain.ttft_ms.2': Input should be a finite number (got nan)",
        ONE_SESSION_NOTE,
    ]
    assert "NaN" not in (project / "baselines" / "pro.json").read_text(encoding="utf-8")


def test_baseline_update_warns_on_a_noisy_baseline_with_the_runs_it_needs(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    noisy = make_result(seed=4, tier="pro", n=12, cv={"ttft_ms": 0.9})
    write_model(project / "results" / "pro.json", noisy)
    code, err = run(["baseline", "update", "--tier", "pro", "--from", "results/pro.json"], capsys)
    assert code == 0
    lines = []
    for scenario in ("prefill", "short-explain"):
        values = [s.ttft_ms for s in next(sc for sc in noisy.scenarios if sc.name == scenario).samples]
        assert all(v is not None for v in values)
        cv = statistics.stdev(values) / statistics.fmean(values)  # type: ignore[arg-type]
        spread = statistics.stdev(math.log(v) for v in values)  # type: ignore[arg-type]
        z = statistics.NormalDist().inv_cdf(0.95)
        needed = math.ceil(2 * (spread * z * 1.05 / math.log(1.10)) ** 2)
        lines.append(
            f"perfgate: warning: baselines/pro.json: {scenario} ttft_ms is noisy (CV {cv:.0%}, above "
            f"gate.baseline_cv_warning 10%): telling a 10% change from noise needs about {needed} runs in the "
            "baseline and in each run (it has 12); re-measure on a quiet machine or with more runs (docs/baselines.md)"
        )
    assert err.splitlines() == [*lines, ONE_SESSION_NOTE]


def test_a_quiet_baseline_gets_no_warning(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(["baseline", "update", "--tier", "pro", "--from", "results/pro.json"], capsys)
    assert (code, err) == (0, ONE_SESSION_NOTE + "\n")  # one results file is one session: only that note


# ---------------------------------------------------------------- the file layer


def test_a_nan_never_reaches_disk(tmp_path: Path) -> None:
    summary = MetricSummary.model_construct(n=2, median=1.0, mean=math.nan, stdev=None, cv=None, min=1.0, max=1.0)
    with pytest.raises(ValueError, match=r"^MetricSummary\.mean is NaN, which JSON cannot hold; nothing was written$"):
        write_model(tmp_path / "s.json", summary)
    assert not list(tmp_path.iterdir())


def test_infinity_is_written_as_null_like_pydantic_does() -> None:
    summary = MetricSummary.model_construct(n=2, median=1.0, mean=1.0, stdev=None, cv=None, min=1.0, max=math.inf)
    assert json.loads(dumps_model(summary))["max"] is None


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(perfgate.files, "MAX_JSON_BYTES", 1024)
    path = tmp_path / "big.json"
    path.write_text(" " * 1025, encoding="utf-8")
    with pytest.raises(BadFileError) as caught:
        read_text_limited(path, "results")
    assert (
        str(caught.value)
        == f"{path}: results file is over 1 KiB, the most perfgate reads; check that it is the right file"
    )
    path.write_text(" " * 1024, encoding="utf-8")
    assert read_text_limited(path, "results") == " " * 1024
    with pytest.raises(BadFileError, match=r"^git:b\.json: baseline file is over 1 KiB, the most perfgate reads$"):
        parse_model("x" * 2000, "git:b.json", MetricSummary, what="baseline", current_version=1)


def test_a_missing_or_unreadable_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: config file not found$"):
        load_config(config_file=tmp_path / "nope.toml", environ={})
    with pytest.raises(ConfigError, match=r": cannot read config file: Is a directory$"):
        load_config(config_file=tmp_path, environ={})


def test_the_metric_rules_agree_with_the_sample_fields() -> None:
    """A baseline's bare values are checked by metric name; a Sample's by its field types: the two must agree."""
    sample = make_result(seed=1, n=1).scenarios[0].samples[0].model_dump()
    for metric in METRIC_UNITS:
        for value, allowed in (
            (0, metric not in POSITIVE_METRICS),
            (-1, metric not in POSITIVE_METRICS | NON_NEGATIVE_METRICS),
        ):
            try:
                Sample.model_validate({**sample, metric: value})
            except ValueError:
                accepted = False
            else:
                accepted = True
            assert accepted == allowed, (metric, value)


# ---------------------------------------------------------------- docs/troubleshooting.md quotes these lines


def _docs_line(prefix: str) -> str:
    return f"perfgate: {quoted(prefix)}"


def test_the_troubleshooting_lines_are_the_ones_printed(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    results = project / "perf-results" / "results-pro.json"
    data = json_of(project / "results" / "pro.json")
    data["scenarios"][0]["samples"][3]["ttft_ms"] = math.nan
    write_json(results, data)
    assert run(_compare("perf-results/results-pro.json"), capsys)[1].splitlines() == [
        _docs_line("perf-results/results-pro.json: invalid results file")
    ]

    write_model(project / "results" / "base.json", make_result(seed=1, tier="base", n=12))
    write_baselines(project / "baselines", baseline_of(make_result(seed=2, tier="base", n=15)))
    base = json_of(project / "baselines" / "base.json")
    base["samples"]["short-explain"]["ttft_ms"][2] = -4.0
    write_json(project / "baselines" / "base.json", base)
    assert run(_compare("results/base.json"), capsys)[1].splitlines() == [
        _docs_line("baselines/base.json: invalid baseline file")
    ]

    (project / "pyproject.toml").write_bytes(NOT_UTF8_TOML)
    assert run(["--config", "pyproject.toml", "host"], capsys)[1].splitlines() == [_docs_line("pyproject.toml: config")]
    (project / "pyproject.toml").write_text('[tool.perfgate.tiers."my tier"]\n', encoding="utf-8")
    assert run(["--config", "pyproject.toml", "host"], capsys)[1].splitlines() == [
        _docs_line("pyproject.toml: invalid config at tiers.my tier")
    ]
    (project / "pyproject.toml").unlink()

    with (project / "perf-results" / "huge.json").open("wb") as handle:
        handle.truncate(50 * 2**20 + 1)
    assert run(_compare("perf-results/huge.json"), capsys)[1].splitlines() == [_docs_line("perf-results/huge.json")]
    (project / "perf-results" / "deep.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    assert run(_compare("perf-results/deep.json"), capsys)[1].splitlines() == [_docs_line("perf-results/deep.json")]

    assert run(["sim", "--port", "99999"], capsys)[1].splitlines() == [_docs_line("sim: argument --port")]
    assert run(["run", "--base-url", "localhost:11434"], capsys)[1].splitlines() == [
        _docs_line("run: argument --base-url")
    ]
    monkeypatch.setenv("PERFGATE_SLACK_WEBHOOK", "x")
    assert run(_compare("results/pro.json"), capsys)[1].splitlines() == [_docs_line("warning: ignoring")]


def test_the_troubleshooting_noisy_baseline_line_is_the_one_printed(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_model(project / "results" / "pro.json", make_result(seed=4, tier="pro", n=12, cv={"e2e_ms": 0.15}))
    code, err = run(["baseline", "update", "--tier", "pro", "--from", "results/pro.json"], capsys)
    template = re.escape(_docs_line("warning: baselines/pro.json: short-explain ttft_ms is noisy"))
    pattern = re.sub(r"\d+", r"\\d+", template).replace("ttft_ms", "e2e_ms")
    assert code == 0
    assert any(re.fullmatch(pattern, line) for line in err.splitlines()), err


@pytest.mark.parametrize("value", [-1, -0.5, math.inf, math.nan, 1.5])
def test_a_runtime_counter_that_no_runtime_can_send_is_a_protocol_error(value: float) -> None:
    """Measured samples are checked when made: what the runtime sent must fail as protocol_error first, not crash."""
    with pytest.raises(ProtocolError, match=r"^protocol error: http://rt sent eval_count=.*, expected an integer"):
        optional_int({"eval_count": value}, "eval_count", "http://rt")
    if value != 1.5:  # a fraction of a millisecond is a duration
        with pytest.raises(ProtocolError, match="expected a number of milliseconds"):
            optional_ms_as_ns({"prompt_ms": value}, "prompt_ms", "http://rt")

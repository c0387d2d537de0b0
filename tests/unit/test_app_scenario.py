"""The app's harness as a scenario, decided in code: config, `-- CMD`, the harness loop and the gate's view of it.

The command itself runs in tests/integration/test_app_harness.py; here a fake
runner hands the harness what one run of the app would.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
from pathlib import Path

import pytest

from perfgate.commands.run import RunOptions, _app_command, with_app_scenario
from perfgate.config import MetricPolicy, PerfgateConfig, ScenarioConfig, load_config
from perfgate.contracts.results import HostInfo, MemoryPeaks, RuntimeInfo, StreamObservation
from perfgate.errors import AppFailed, AppTimeout, ConfigError, Kind, UsageError
from perfgate.measure.app import AppMeasurement
from perfgate.measure.harness import extend_benchmark, run_benchmark
from perfgate.measure.memory import MemorySampler
from perfgate.measure.samples import build_sample
from perfgate.metrics import is_app_metric, unit_of
from perfgate.parser import build_parser

MS = 1_000_000
HOST = HostInfo(label="ci", os="linux", os_version="6.1", chip="AMD EPYC", memory_bytes=2**34)
COMMAND = ("python3", "chat_app.py", "--server", "{proxy_url}")


# --------------------------------------------------------------------------- config


def test_a_scenario_is_perfgates_request_or_the_apps_command():
    app = ScenarioConfig(command=["python3", "chat_app.py"])
    assert app.command == ("python3", "chat_app.py")
    assert app.prompt is None
    assert app.timeout_s == 600.0
    with pytest.raises(ValueError, match=r"needs a prompt .* or a command"):
        ScenarioConfig()
    with pytest.raises(ValueError, match="at least 1 item"):
        ScenarioConfig(command=[])


def test_an_app_scenario_in_pyproject_adds_to_the_built_in_ones(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.perfgate.scenarios.chat]\ncommand = ["python3", "chat_app.py"]\ntimeout_s = 30\n', encoding="utf-8"
    )
    config = load_config(cwd=tmp_path, environ={})
    assert list(config.scenarios) == ["short-explain", "prefill", "chat"]
    assert config.scenarios["chat"].command == ("python3", "chat_app.py")
    assert config.scenarios["chat"].timeout_s == 30


def test_gate_metrics_accept_the_apps_own_figures_and_nothing_else_new(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.perfgate.gate.metrics."app.first_token_on_screen_ms"]\nthreshold_worse = 0.1\nthreshold_better = 0.1\n'
        '[tool.perfgate.tiers.sim]\ninformational_metrics = ["app.first_token_on_screen_ms"]\n',
        encoding="utf-8",
    )
    config = load_config(cwd=tmp_path, environ={})
    assert config.gate.metrics["app.first_token_on_screen_ms"] == MetricPolicy(
        threshold_worse=0.1, threshold_better=0.1
    )
    (tmp_path / "pyproject.toml").write_text(
        '[tool.perfgate.gate.metrics."application.x"]\nthreshold_worse = 0.1\nthreshold_better = 0.1\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"unknown metric 'application\.x'"):
        load_config(cwd=tmp_path, environ={})
    for bad in ("app.", "app.a b", "app.a.b"):
        assert not is_app_metric(bad)


def test_an_app_figure_takes_its_unit_from_its_name():
    assert unit_of("app.first_token_on_screen_ms") == "ms"
    assert unit_of("app.history_mb") == "MB"
    assert unit_of("app.render_tok_s") == "tok/s"
    assert unit_of("app.tokens") == ""


def test_app_kinds_are_owned_by_the_app_and_p1_by_default():
    triage = PerfgateConfig().triage
    for kind in ("app_failed", "app_no_request", "app_timeout"):
        assert triage.owners[kind] == "App"
        assert triage.severities[kind] == "P1"


# --------------------------------------------------------------------------- `perfgate run ... -- CMD`


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["run", *argv])


def test_everything_after_the_double_dash_is_the_apps_command_flags_included():
    args = parse("--runs", "3", "--", "python3", "app.py", "--runs", "9", "-v")
    assert args.runs == 3
    assert _app_command(args) == ("python3", "app.py", "--runs", "9", "-v")
    assert _app_command(parse("--runs", "3")) == ()


def test_a_command_without_the_double_dash_or_an_empty_one_is_a_usage_error():
    with pytest.raises(UsageError, match="put the app's benchmark command after `--`"):
        _app_command(parse("python3", "app.py"))
    with pytest.raises(UsageError, match="must be followed by"):
        _app_command(parse("--"))


def test_the_command_becomes_the_one_scenario_named_app_by_default():
    config, options = with_app_scenario(PerfgateConfig(), RunOptions(app_command=COMMAND))
    assert options.scenarios == ("app",)
    assert config.scenarios["app"].command == COMMAND
    assert "short-explain" in config.scenarios  # still configured, just not selected


def test_a_configured_scenario_of_that_name_lends_its_settings_and_the_flag_its_timeout():
    base = PerfgateConfig(scenarios={"chat": ScenarioConfig(command=("old",), timeout_s=30)})
    config, options = with_app_scenario(base, RunOptions(scenarios=("chat",), app_command=("new", "cmd")))
    assert options.scenarios == ("chat",)
    assert config.scenarios["chat"].command == ("new", "cmd")
    assert config.scenarios["chat"].timeout_s == 30
    config, _ = with_app_scenario(base, RunOptions(app_timeout_s=5.0))
    assert config.scenarios["chat"].timeout_s == 5.0
    with pytest.raises(UsageError, match="one --scenario"):
        with_app_scenario(base, RunOptions(scenarios=("a", "b"), app_command=("x",)))


# --------------------------------------------------------------------------- the harness loop


class FakeClient:
    kind = "ollama"
    sends_num_ctx = True
    base_url = "http://127.0.0.1:1"
    model = "m"
    preloads = 0
    streams = 0

    def preflight(self):
        return RuntimeInfo(kind="ollama", base_url=self.base_url, version="0.5.1", model="m", model_digest="d")

    def preload(self, options):
        self.preloads += 1

    def stream(self, prompt, options):  # pragma: no cover -- an app scenario never sends perfgate's own request
        self.streams += 1
        raise AssertionError("perfgate's own request in an app scenario")

    def runtime_reported(self):
        return {}

    def close(self):
        pass


class FakeSampler:
    def window(self):
        return MemoryPeaks(peak_runtime_rss_mb=300.0, peak_harness_rss_mb=40.0, peak_combined_rss_mb=450.0)

    def watch_app(self, pid):  # pragma: no cover -- the fake runner never starts a process
        pass


class FakeApp:
    """Each call is one run of the app: a sample, or the failure given for that call."""

    def __init__(self, failures: dict[int, Exception] | None = None):
        self.failures = failures or {}
        self.calls: list[tuple[tuple[str, ...], float, int]] = []

    def measure(self, command, *, timeout_s, sampler, iteration, cold_load_ms):
        self.calls.append((tuple(command), timeout_s, iteration))
        if len(self.calls) in self.failures:
            raise self.failures[len(self.calls)]
        chunks = tuple((40 + 10 * i) * MS for i in range(5))
        obs = StreamObservation(
            sent_ns=0,
            first_content_ns=chunks[0],
            last_content_ns=chunks[-1],
            done_ns=chunks[-1] + MS,
            content_chunk_ns=chunks,
            text="hello",
            output_tokens=5,
            prompt_tokens=20,
        )
        sample = build_sample(obs, iteration=iteration, memory=sampler.window(), cold_load_ms=cold_load_ms)
        sample = sample.model_copy(update={"app_wall_ms": 700.0, "app_metrics": {"first_token_on_screen_ms": 45.0}})
        return AppMeasurement(sample, model="m", prompt_sha256="a" * 64, options_sha256="b" * 64, llm_requests=1)


def run_app(app: FakeApp | None, **config: object):
    settings: dict[str, object] = {"runs": 3, "warmup": 1, "scenarios": {"app": ScenarioConfig(command=COMMAND)}}
    settings.update(config)
    client = FakeClient()
    result = run_benchmark(
        client=client,
        config=PerfgateConfig.model_validate(settings),
        tier="sim",
        host=HOST,
        command="perfgate run -- python3 chat_app.py",
        created_at="2026-11-28T00:00:00Z",
        git_sha=None,
        simulated=True,
        locate_runtime_pid=lambda: 10,
        sampler_factory=lambda pid: FakeSampler(),
        app=app,
        process_started=lambda pid: None,
    )
    return result, client


def test_each_warm_up_and_measured_run_is_one_execution_of_the_command():
    app = FakeApp()
    result, client = run_app(app)
    assert result.ok
    assert [(c[0], c[2]) for c in app.calls] == [(COMMAND, -1), (COMMAND, 0), (COMMAND, 1), (COMMAND, 2)]
    assert app.calls[0][1] == 600.0
    assert client.preloads == 0  # the app loads its model its own way
    (scenario,) = result.scenarios
    assert scenario.warmups_discarded == 1
    assert [s.iteration for s in scenario.samples] == [0, 1, 2]
    assert scenario.command == shlex.join(COMMAND)
    assert scenario.prompt_chars is None
    assert scenario.prompt_sha256 == "a" * 64  # what the app sent, hashed by the proxy
    assert scenario.summaries["app_wall_ms"].median == 700.0
    assert scenario.summaries["app.first_token_on_screen_ms"].n == 3


def test_the_fingerprint_holds_the_command_as_written_and_what_the_app_sent():
    result, _ = run_app(FakeApp())
    fingerprint = result.fingerprint.scenarios["app"]
    assert fingerprint.command == "python3 chat_app.py --server '{proxy_url}'"
    assert fingerprint.prompt_sha256 == "a" * 64
    assert fingerprint.options_sha256 == "b" * 64


def test_a_failing_run_keeps_the_runs_measured_before_it():
    app = FakeApp({3: AppFailed("app command exited with 1: python3 chat_app.py: boom")})
    result, _ = run_app(app)
    (failure,) = result.failures
    assert failure.kind is Kind.APP_FAILED
    assert (failure.scenario, failure.iteration) == ("app", 1)
    assert len(result.scenarios[0].samples) == 1
    assert len(app.calls) == 3  # nothing after the failure


def test_a_failing_warm_up_is_a_failure_with_no_samples():
    result, _ = run_app(FakeApp({1: AppTimeout("app command did not end within 600 s and was killed: x")}))
    assert [(f.kind, f.iteration) for f in result.failures] == [(Kind.APP_TIMEOUT, None)]
    assert result.scenarios[0].samples == ()
    # With nothing sent, the fingerprint's prompt is the empty one, not a guess.
    assert result.fingerprint.scenarios["app"].prompt_sha256 == hashlib.sha256(b"").hexdigest()


def test_an_app_scenario_without_a_runner_is_refused_before_anything_runs():
    with pytest.raises(UsageError, match="no measuring proxy"):
        run_app(None)


def test_perfgates_own_scenarios_and_the_apps_run_side_by_side(tmp_path: Path):
    app = FakeApp()
    scenarios = {"app": ScenarioConfig(command=COMMAND), "short-explain": ScenarioConfig(prompt="hi", num_predict=4)}

    class Streaming(FakeClient):
        def stream(self, prompt, options):
            self.streams += 1
            chunks = tuple((20 + i) * MS for i in range(4))
            return StreamObservation(
                sent_ns=0,
                first_content_ns=chunks[0],
                last_content_ns=chunks[-1],
                done_ns=chunks[-1],
                content_chunk_ns=chunks,
                text="abcd",
                output_tokens=4,
                prompt_tokens=2,
            )

    client = Streaming()
    result = run_benchmark(
        client=client,
        config=PerfgateConfig(runs=2, warmup=0, scenarios=scenarios),
        tier="sim",
        host=HOST,
        command="perfgate run",
        created_at="2026-11-28T00:00:00Z",
        git_sha=None,
        simulated=True,
        locate_runtime_pid=lambda: 10,
        sampler_factory=lambda pid: FakeSampler(),
        app=app,
        process_started=lambda pid: None,
    )
    assert [s.name for s in result.scenarios] == ["app", "short-explain"]
    assert client.streams == 2
    assert len(app.calls) == 2
    assert result.fingerprint.scenarios["short-explain"].command is None
    assert result.scenarios[1].prompt_chars == 2


def test_interleaved_an_app_run_and_any_run_after_one_get_a_warm_up_right_before_them():
    # The app's prompt may be warm and its options (num_ctx: a reload) are its own: each of its runs is
    # warmed again after another scenario's request, and so is a cold scenario's run after an app run.
    log: list[str] = []

    class Logged(FakeApp):
        def measure(self, command, **kwargs):
            log.append("app" if kwargs["iteration"] >= 0 else "app warm-up")
            return super().measure(command, **kwargs)

    class Streaming(FakeClient):
        def preload(self, options):
            log.append("preload")

        def stream(self, prompt, options):
            log.append("cold")
            chunks = tuple((20 + i) * MS for i in range(4))
            return StreamObservation(
                sent_ns=0,
                first_content_ns=chunks[0],
                last_content_ns=chunks[-1],
                done_ns=chunks[-1],
                content_chunk_ns=chunks,
                text="abcd",
                output_tokens=4,
                prompt_tokens=2,
            )

    scenarios = {"app": ScenarioConfig(command=COMMAND), "cold": ScenarioConfig(prompt="hi", cold_prompt=True)}
    result = run_benchmark(
        client=Streaming(),
        config=PerfgateConfig(runs=2, warmup=1, scenarios=scenarios),
        tier="sim",
        host=HOST,
        command="perfgate run",
        created_at="2026-11-28T00:00:00Z",
        git_sha=None,
        simulated=True,
        locate_runtime_pid=lambda: 10,
        sampler_factory=lambda pid: FakeSampler(),
        app=Logged(),
        process_started=lambda pid: None,
    )
    # The cold scenario's warm-up and its run are one request each ("cold", "cold").
    assert log == ["app warm-up", "preload", "cold", *["app warm-up", "app", "cold", "cold"] * 2]
    assert [[s.sequence for s in sc.samples] for sc in result.scenarios] == [[0, 2], [1, 3]]
    assert [sc.warmups_discarded for sc in result.scenarios] == [1 + 2, 1 + 2]


def test_a_sequential_run_adds_runs_of_the_app_after_a_fresh_warm_up():
    app = FakeApp()
    result, client = run_app(app)
    more = extend_benchmark(
        result,
        client=client,
        config=PerfgateConfig(runs=3, warmup=1, scenarios={"app": ScenarioConfig(command=COMMAND)}),
        scenarios={"app"},
        runs=2,
        sampler=FakeSampler(),
        app=app,
    )
    (scenario,) = more.scenarios
    assert [s.iteration for s in scenario.samples] == [0, 1, 2, 3, 4]
    assert [c[2] for c in app.calls[4:]] == [-1, 3, 4]
    assert scenario.warmups_discarded == 2
    assert scenario.prompt_sha256 == "a" * 64
    assert scenario.command == shlex.join(COMMAND)


# --------------------------------------------------------------------------- the sampler watching an app's tree


def test_a_watched_app_is_read_in_the_same_tick_as_the_runtime_and_combined_is_their_sum():
    # This process stands for both trees (reading it starts nothing): combined is app + runtime, not + perfgate.
    sampler = MemorySampler(os.getpid())
    sampler.watch_app(os.getpid())
    peaks = sampler.window()
    assert peaks.peak_app_rss_mb is not None
    assert peaks.peak_runtime_rss_mb is not None
    assert peaks.peak_combined_rss_mb == pytest.approx(peaks.peak_runtime_rss_mb + peaks.peak_app_rss_mb, abs=0.2)
    sampler.watch_app(None)
    alone = sampler.window()
    assert alone.peak_app_rss_mb is None
    assert alone.peak_combined_rss_mb == alone.peak_runtime_rss_mb  # back to runtime + harness, counted once


def test_an_app_that_already_ended_has_no_peak_and_no_combined_never_zero():
    sampler = MemorySampler(os.getpid())
    sampler.watch_app(2**22 + 12345)  # above Linux's pid_max: no such process
    peaks = sampler.window()
    assert peaks.peak_app_rss_mb is None
    assert peaks.peak_combined_rss_mb is None
    assert peaks.peak_runtime_rss_mb is not None

"""The app scenario's pure parts: PERFGATE lines, stderr tails, the first LLM request, and how a run is judged."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfgate.contracts.proxy import ProxyRecord
from perfgate.contracts.results import MemoryPeaks, StreamObservation, metric_values
from perfgate.errors import (
    AppFailed,
    AppNoRequest,
    AppTimeout,
    Kind,
    ModelMissing,
    RuntimeFailure,
    StreamTruncated,
)
from perfgate.measure.app import (
    AppRun,
    expand_command,
    first_llm_request,
    judge,
    one_line,
    parse_metric_lines,
    proxy_env,
    stderr_tail,
)
from perfgate.measure.samples import summarise_samples

MS = 1_000_000


def observation(sent_ms: float = 0.0, ttft_ms: float = 50.0, tokens: int = 8) -> StreamObservation:
    sent = int(sent_ms * MS)
    chunks = tuple(sent + int(ttft_ms * MS) + i * 10 * MS for i in range(tokens))
    return StreamObservation(
        sent_ns=sent,
        first_content_ns=chunks[0] if chunks else None,
        last_content_ns=chunks[-1] if chunks else None,
        done_ns=(chunks[-1] if chunks else sent) + MS,
        content_chunk_ns=chunks,
        text="x" * tokens,
        output_tokens=tokens,
        prompt_tokens=30,
        eval_count=tokens,
        eval_ns=(tokens - 1) * 10 * MS,  # Ollama: first to last token, n - 1 gaps
    )


def record(
    started_ms: float,
    *,
    path: str = "/api/chat",
    api: str = "ollama_chat",
    obs: StreamObservation | None = None,
    status: int | None = 200,
    error: str | None = None,
    error_kind: Kind | None = None,
    prompt: str = "p" * 64,
) -> ProxyRecord:
    return ProxyRecord(
        started_ns=int(started_ms * MS),
        ended_ns=int(started_ms * MS) + 1,
        method="POST" if api != "other" else "GET",
        path=path,
        api=api,  # type: ignore[arg-type]
        model="m" if api != "other" else None,
        prompt_sha256=prompt if api != "other" else None,
        options_sha256="o" * 64 if api != "other" else None,
        stream=True,
        status=status,
        error=error,
        error_kind=error_kind,
        observation=obs,
    )


MEMORY = MemoryPeaks(
    peak_runtime_rss_mb=300.0,
    peak_harness_rss_mb=40.0,
    peak_combined_rss_mb=450.0,
    peak_app_rss_mb=150.0,
)


def app_run(**kw: object) -> AppRun:
    fields: dict[str, object] = {
        "command": "python chat_app.py",
        "returncode": 0,
        "wall_ns": 800 * MS,
        "stdout": 'hello\nPERFGATE {"first_token_on_screen_ms": 61.5}\n',
        "stderr": "",
        "timed_out": False,
        "timeout_s": 30.0,
        "memory": MEMORY,
        "records": (record(10, obs=observation(10)),),
    }
    fields.update(kw)
    return AppRun(**fields)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- PERFGATE lines


def test_perfgate_lines_become_figures_and_other_output_is_ignored():
    out = "\n".join(
        [
            "the answer",
            'PERFGATE {"first_token_on_screen_ms": 61.5, "tokens": 32}',
            "PERFGATE_NOT_A_METRIC_LINE {}",
            ' PERFGATE {"indented": 1}',  # not at the start of the line: app output, not a figure
            'PERFGATE {"tokens": 33}\r',  # a later line wins; a CRLF line ending is fine
        ]
    )
    assert parse_metric_lines(out) == {"first_token_on_screen_ms": 61.5, "tokens": 33.0}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("PERFGATE {not json", "not a JSON object"),
        ("PERFGATE [1, 2]", "not a JSON object"),
        ('PERFGATE {"x": "fast"}', "not a finite number"),
        ('PERFGATE {"x": true}', "not a finite number"),
        ('PERFGATE {"x": null}', "not a finite number"),
        ('PERFGATE {"x": NaN}', "not a finite number"),
        ('PERFGATE {"a b": 1}', "use letters, digits, _ and -"),
        ('PERFGATE {"a.b": 1}', "use letters, digits, _ and -"),
    ],
)
def test_a_bad_perfgate_line_is_the_apps_failure_with_the_reason(line, reason):
    with pytest.raises(AppFailed, match=reason) as info:
        parse_metric_lines(f"ok\n{line}\n")
    assert info.value.kind is Kind.APP_FAILED
    assert "\n" not in info.value.message


# --------------------------------------------------------------------------- stderr, env, argv


def test_stderr_tail_keeps_the_last_twenty_non_blank_lines():
    text = "\n".join(f"line {i}" for i in range(30)) + "\n\n   \n"
    tail = stderr_tail(text)
    assert tail == tuple(f"line {i}" for i in range(10, 30))


def test_one_line_joins_and_keeps_the_end_when_long():
    assert one_line(["Traceback (most recent call last):", "  File x", "ValueError:   bad"]) == (
        "Traceback (most recent call last): | File x | ValueError: bad"
    )
    long = one_line([f"frame {i} " + "y" * 50 for i in range(40)] + ["KeyError: 'model'"], limit=120)
    assert len(long) == 120
    assert long.startswith("…")
    assert long.endswith("KeyError: 'model'")


class FakeProxy:
    url = "http://127.0.0.1:5555"
    host_port = "127.0.0.1:5555"

    def take_records(self):
        return []


def test_the_app_finds_the_proxy_where_ollama_and_openai_clients_look():
    assert proxy_env(FakeProxy()) == {
        "OLLAMA_HOST": "127.0.0.1:5555",
        "OPENAI_BASE_URL": "http://127.0.0.1:5555/v1",
        "PERFGATE_PROXY_URL": "http://127.0.0.1:5555",
    }


def test_proxy_url_placeholder_is_filled_in_every_argument():
    assert expand_command(["app", "--server={proxy_url}/v1", "{proxy_url}", "x"], "http://h:1") == [
        "app",
        "--server=http://h:1/v1",
        "http://h:1",
        "x",
    ]


# --------------------------------------------------------------------------- the first LLM request


def test_the_first_llm_request_by_start_time_is_the_one_measured():
    late = record(50, obs=observation(50, ttft_ms=80))
    early = record(20, obs=observation(20, ttft_ms=30), prompt="a" * 64)
    tags = record(1, path="/api/tags", api="other")
    assert first_llm_request([late, tags, early]) is early


def test_a_load_only_request_is_skipped_for_the_first_that_streamed_content():
    preload = record(5, api="ollama_generate", path="/api/generate", obs=observation(5, tokens=0))
    answer = record(9, obs=observation(9))
    assert first_llm_request([preload, answer]) is answer
    # With nothing but a load call, it is the one there is.
    assert first_llm_request([preload]) is preload


def test_no_llm_request_names_what_the_app_did_request():
    with pytest.raises(AppNoRequest, match=r"no LLM request .*requested only /api/tags, /api/version"):
        first_llm_request([record(1, path="/api/version", api="other"), record(2, path="/api/tags", api="other")])
    with pytest.raises(AppNoRequest, match=r"no LLM request through perfgate's proxy$"):
        first_llm_request([])


def test_a_failed_request_the_app_shrugged_off_is_the_runtimes_failure_of_its_kind():
    with pytest.raises(ModelMissing, match="404"):
        first_llm_request([record(1, status=404, error="model 'm' not found", error_kind=Kind.MODEL_MISSING)])
    with pytest.raises(StreamTruncated, match="broke mid-stream"):
        first_llm_request([record(1, error="broke mid-stream", error_kind=Kind.STREAM_TRUNCATED)])
    with pytest.raises(RuntimeFailure, match="HTTP 500"):
        first_llm_request([record(1, status=500)])


# --------------------------------------------------------------------------- judging a run


def test_a_good_run_is_one_sample_from_the_first_request_plus_the_apps_own_numbers():
    second = record(900, obs=observation(900, ttft_ms=500, tokens=3), prompt="b" * 64)
    measured = judge(app_run(records=(second, record(10, obs=observation(10)))), iteration=4, cold_load_ms=500)
    sample = measured.sample
    assert sample.iteration == 4
    assert sample.ttft_ms == pytest.approx(50.0)  # the first request's, not the second's 500
    assert sample.output_tokens == 8
    assert sample.decode_tok_s == pytest.approx(100.0)
    assert sample.app_wall_ms == pytest.approx(800.0)
    assert sample.peak_app_rss_mb == 150.0
    assert sample.peak_runtime_rss_mb == 300.0
    assert sample.peak_combined_rss_mb == 450.0
    assert sample.app_metrics == {"first_token_on_screen_ms": 61.5}
    assert (measured.prompt_sha256, measured.options_sha256, measured.model) == ("p" * 64, "o" * 64, "m")
    assert measured.llm_requests == 2


def test_a_timeout_is_judged_first_with_the_stderr_tail():
    with pytest.raises(AppTimeout) as info:
        judge(
            app_run(timed_out=True, returncode=None, stderr="waiting for the model...\n"), iteration=0, cold_load_ms=0
        )
    assert info.value.message == (
        "app command did not end within 30 s and was killed: python chat_app.py: waiting for the model..."
    )


def test_a_non_zero_exit_is_the_apps_failure_with_its_last_stderr_lines_on_one_line():
    stderr = 'Traceback (most recent call last):\n  File "chat_app.py", line 3\nConnectionRefusedError: [Errno 111]\n'
    with pytest.raises(AppFailed) as info:
        judge(app_run(returncode=1, stderr=stderr, records=()), iteration=0, cold_load_ms=0)
    message = info.value.message
    assert message.startswith("app command exited with 1: python chat_app.py: Traceback")
    assert message.endswith("ConnectionRefusedError: [Errno 111]")
    assert "\n" not in message
    with pytest.raises(AppFailed, match=r"exited with 2: python chat_app.py \(nothing on stderr\)"):
        judge(app_run(returncode=2), iteration=0, cold_load_ms=0)
    with pytest.raises(AppFailed, match=r"killed by signal 11: python chat_app.py \(nothing on stderr\)"):
        judge(app_run(returncode=-11), iteration=0, cold_load_ms=0)


def test_a_clean_exit_without_a_request_is_no_request():
    with pytest.raises(AppNoRequest):
        judge(app_run(records=(record(1, path="/api/tags", api="other"),)), iteration=0, cold_load_ms=0)


# --------------------------------------------------------------------------- the app's figures as metrics


def test_app_figures_are_metrics_named_app_dot_name_summarised_after_perfgates_own():
    samples = [
        judge(app_run(stdout=f'PERFGATE {{"first_token_on_screen_ms": {v}}}'), iteration=i, cold_load_ms=0).sample
        for i, v in enumerate((60, 62, 64))
    ]
    assert metric_values(samples, "app.first_token_on_screen_ms") == [60.0, 62.0, 64.0]
    assert metric_values(samples, "app.missing") == []
    summaries = summarise_samples(samples)
    assert list(summaries)[-1] == "app.first_token_on_screen_ms"
    assert summaries["app.first_token_on_screen_ms"].median == 62.0
    assert summaries["app_wall_ms"].n == 3


# --------------------------------------------------------------------------- the lines docs/app-harness.md quotes

DOC = Path(__file__).resolve().parents[2] / "docs" / "app-harness.md"


def quoted(prefix: str) -> str:
    (line,) = [line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith(f"perfgate: {prefix}")]
    return line.removeprefix("perfgate: ")


@pytest.mark.parametrize(
    ("prefix", "run"),
    [
        (
            "app command exited",
            app_run(command="swift run BzzbePerfHarness", returncode=1, stderr="Fatal error: no model configured\n"),
        ),
        (
            "app command did not end",
            app_run(
                command="swift run BzzbePerfHarness",
                timed_out=True,
                returncode=None,
                timeout_s=600.0,
                stderr="waiting for the first token\n",
            ),
        ),
        ("the app made no LLM request", app_run(records=(record(1, path="/api/tags", api="other"),))),
    ],
)
def test_the_failure_lines_the_docs_quote_are_the_ones_printed(prefix, run):
    with pytest.raises((AppFailed, AppTimeout, AppNoRequest)) as info:
        judge(run, iteration=0, cold_load_ms=0)
    assert info.value.message == quoted(prefix)

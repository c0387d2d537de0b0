"""The app's harness as a scenario over real sockets and processes: the example app through the measuring proxy.

``AppRunner`` runs a real command in front of an in-process simulator (memory
of the command's whole tree, OLLAMA_HOST / OPENAI_BASE_URL / ``{proxy_url}``),
then ``perfgate run -- CMD`` end to end for a command that fails, hangs or never
calls the runtime: exit 3, one line with the reason, the runs before it kept.
Nothing here asserts a live duration beyond one-sided bounds.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
from support.cli import clean_env, error_lines, load_results, perfgate
from support.sim import MODEL
from support.waiting import is_gone, wait_until

from perfgate.errors import AppFailed, AppNoRequest, AppTimeout, Kind
from perfgate.measure.app import AppRunner
from perfgate.measure.locate import locate_runtime
from perfgate.measure.memory import MemorySampler
from perfgate.measure.proxy import MeasuringProxy

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "chat-app"
SIM = ("--runtime", "sim", "--sim-ttft-ms", "5", "--sim-tok-s", "400", "--sim-load-ms", "0", "--sim-ballast-mb", "8")


def example_app(where: Path, **changes: object) -> Path:
    """examples/chat-app copied to ``where``, with its config.json changed as asked."""
    where.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLE / "chat_app.py", where)
    config = json.loads((EXAMPLE / "config.json").read_text(encoding="utf-8"))
    config.update({"num_predict": 8, **changes})
    (where / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return where


@pytest.fixture
def runner(start_sim, tmp_path):
    """An AppRunner in ``tmp_path`` through a real proxy in front of a simulator, and a sampler of both trees."""
    server, _ = start_sim(tok_s=400.0)
    with MeasuringProxy(server.base_url) as proxy:
        sampler = MemorySampler(locate_runtime(server.base_url, pid=os.getpid()), interval_s=0.02)
        with sampler:
            yield AppRunner(proxy, cwd=tmp_path), sampler


def test_the_example_app_is_measured_through_the_proxy(runner, tmp_path):
    app, sampler = runner
    example_app(tmp_path)
    measured = app.measure(
        [sys.executable, "chat_app.py"], timeout_s=60, sampler=sampler, iteration=0, cold_load_ms=500
    )
    sample = measured.sample
    assert measured.model == MODEL
    assert measured.llm_requests == 1
    assert sample.output_tokens == 8
    assert sample.ttft_ms is not None
    assert sample.ttft_ms > 0
    assert sample.app_wall_ms is not None
    assert sample.ttft_ms < sample.app_wall_ms  # the request is inside the command's run
    assert sample.app_metrics["first_token_on_screen_ms"] > 0
    assert sample.peak_app_rss_mb is not None
    assert sample.peak_app_rss_mb > 0


def test_the_apps_whole_process_tree_is_sampled_with_the_runtime(runner, tmp_path):
    # The benchmark command is a launcher; the app holding 96 MB is its child.
    app, sampler = runner
    example_app(tmp_path, hold_mb=96)
    (tmp_path / "launch.py").write_text(
        "import subprocess, sys\nsys.exit(subprocess.call([sys.executable, 'chat_app.py']))\n", encoding="utf-8"
    )
    sample = app.measure(
        [sys.executable, "launch.py"], timeout_s=60, sampler=sampler, iteration=0, cold_load_ms=500
    ).sample
    assert sample.peak_app_rss_mb is not None
    assert sample.peak_app_rss_mb >= 96
    assert sample.peak_runtime_rss_mb is not None
    assert sample.peak_combined_rss_mb is not None
    # App and runtime are read in the same ticks: the combined peak holds both (not perfgate's own memory).
    assert sample.peak_combined_rss_mb >= 96 + sample.peak_runtime_rss_mb * 0.9


def test_an_openai_client_finds_the_proxy_in_openai_base_url(runner, tmp_path):
    app, sampler = runner
    script = textwrap.dedent(
        f"""
        import json, os, urllib.request
        body = {{"model": {MODEL!r}, "messages": [{{"role": "user", "content": "hi"}}], "max_tokens": 6,
                 "stream": True, "stream_options": {{"include_usage": True}}}}
        request = urllib.request.Request(os.environ["OPENAI_BASE_URL"] + "/chat/completions",
                                         data=json.dumps(body).encode(), headers={{"Content-Type": "application/json"}})
        with urllib.request.urlopen(request) as response:
            for line in response:
                pass
        """
    )
    (tmp_path / "oai.py").write_text(script, encoding="utf-8")
    sample = app.measure(
        [sys.executable, "oai.py"], timeout_s=60, sampler=sampler, iteration=0, cold_load_ms=500
    ).sample
    assert sample.output_tokens == 6
    assert sample.ttft_ms is not None


def test_an_app_that_takes_the_url_as_an_argument_gets_the_proxys(runner, tmp_path):
    app, sampler = runner
    example_app(tmp_path)
    # The app ignores OLLAMA_HOST and uses the URL it is given, as apps with a settings field do.
    (tmp_path / "flag.py").write_text(
        "import os, sys\nos.environ['OLLAMA_HOST'] = sys.argv[1]\nimport chat_app\nsys.exit(chat_app.main(['x']))\n",
        encoding="utf-8",
    )
    measured = app.measure(
        [sys.executable, "flag.py", "{proxy_url}"], timeout_s=60, sampler=sampler, iteration=0, cold_load_ms=500
    )
    assert measured.llm_requests == 1


def test_failures_are_of_their_own_kind(runner, tmp_path):
    app, sampler = runner

    def measure(code: str, timeout_s: float = 60) -> None:
        app.measure([sys.executable, "-c", code], timeout_s=timeout_s, sampler=sampler, iteration=0, cold_load_ms=0)

    with pytest.raises(AppFailed, match=r"exited with 3: .*: starting \| ValueError: no model configured$"):
        measure(
            "import sys; print('starting', file=sys.stderr); "
            "print('ValueError: no model configured', file=sys.stderr); sys.exit(3)"
        )
    with pytest.raises(AppNoRequest):
        measure("print('PERFGATE {\"x\": 1}')")
    with pytest.raises(AppTimeout, match=r"did not end within 0.5 s"):
        measure("import time; time.sleep(60)", timeout_s=0.5)
    with pytest.raises(AppFailed, match="could not start"):
        app.measure(["/nonexistent/app"], timeout_s=5, sampler=sampler, iteration=0, cold_load_ms=0)


# --------------------------------------------------------------------------- `perfgate run -- CMD`, end to end

MISBEHAVE = """
import os, subprocess, sys, time, urllib.request
from pathlib import Path

mode, good_runs = sys.argv[1], int(sys.argv[2])
counter = Path("runs.txt")
n = int(counter.read_text()) + 1 if counter.exists() else 1
counter.write_text(str(n))
if n <= good_runs:  # the warm-up and the first measured runs are the real app
    import chat_app
    sys.exit(chat_app.main(["chat_app.py"]))
if mode == "fail":
    print("loading the conversation", file=sys.stderr)
    print("RuntimeError: the app crashed on purpose", file=sys.stderr)
    sys.exit(2)
if mode == "hang":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    Path("child.pid").write_text(str(child.pid))
    print("waiting for a reply that never comes", file=sys.stderr, flush=True)
    time.sleep(600)
if mode == "none":  # talks to the runtime, but never asks it for a generation
    urllib.request.urlopen("http://" + os.environ["OLLAMA_HOST"] + "/api/tags").read()
"""


@pytest.mark.parametrize(
    ("mode", "kind", "reason"),
    [
        (
            "fail",
            Kind.APP_FAILED,
            "app command exited with 2: {cmd}: loading the conversation | RuntimeError: the app crashed on purpose",
        ),
        (
            "hang",
            Kind.APP_TIMEOUT,
            "app command did not end within 3 s and was killed: {cmd}: waiting for a reply that never comes",
        ),
        (
            "none",
            Kind.APP_NO_REQUEST,
            "the app made no LLM request through perfgate's proxy (it requested only /api/tags)",
        ),
    ],
)
def test_a_command_that_fails_hangs_or_never_calls_the_runtime_exits_3_and_keeps_the_earlier_runs(
    tmp_path, mode, kind, reason
):
    example_app(tmp_path)
    (tmp_path / "misbehave.py").write_text(MISBEHAVE, encoding="utf-8")
    command = [sys.executable, "misbehave.py", mode, "2"]  # warm-up + 1 measured run, then the trouble
    proc = perfgate(
        "run",
        *SIM,
        "--runs",
        "3",
        "--app-timeout",
        "3",
        "--out",
        "r.json",
        "--",
        *command,
        cwd=tmp_path,
        env=clean_env(),
    )
    assert proc.returncode == 3, proc.stderr
    cmd = " ".join(command)
    assert error_lines(proc) == [f"perfgate: {reason.format(cmd=cmd)}"]
    result = load_results(tmp_path / "r.json")
    (failure,) = result.failures
    assert (failure.kind, failure.scenario, failure.iteration) == (kind, "app", 1)
    (scenario,) = result.scenarios
    assert len(scenario.samples) == 1  # the run before the trouble is kept
    assert scenario.command == cmd
    if mode == "hang":  # the whole tree was killed, not only the command
        child = int((tmp_path / "child.pid").read_text())
        wait_until(lambda: is_gone(child), what=f"the hung app's child {child} to be gone")


def test_a_double_dash_with_no_command_is_a_usage_error(tmp_path):
    proc = perfgate("run", *SIM, "--out", "r.json", "--", cwd=tmp_path, env=clean_env())
    assert proc.returncode == 2
    assert error_lines(proc) == ["perfgate: `--` must be followed by the app's benchmark command"]
    assert not (tmp_path / "r.json").exists()

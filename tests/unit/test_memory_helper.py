"""The helper's protocol, as perfgate reads it, and the sampler's fall-back to it when macOS refuses a runtime."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest

from perfgate.config import RuntimeConfig
from perfgate.errors import MemoryUnavailable
from perfgate.measure.footprint import MacMemory, RusageDenied
from perfgate.measure.locate import locate_runtime
from perfgate.measure.memory import MemorySampler
from perfgate.measure.memory_helper import (
    HelperFailed,
    HelperReading,
    HelperSpec,
    failure_message,
    helper_interval_ms,
    helper_spec,
    parse_line,
    sudoers_line,
)

MIB = 2**20


def _line(*procs: dict[str, object], t: object = 812.5) -> bytes:
    return json.dumps({"t": t, "procs": list(procs)}).encode()


def _mac(pid: int, rss: int, footprint: int, wired: int) -> dict[str, object]:
    return {"pid": pid, "rss": rss, "footprint": footprint, "resident": rss, "wired": wired, "hwm": None}


def test_a_macos_line_sums_each_figure_over_the_tree() -> None:
    reading = parse_line(_line(_mac(812, 100 * MIB, 40 * MIB, 0), _mac(813, 900 * MIB, 300 * MIB, 2 * MIB)))
    assert reading == HelperReading(
        t=812.5, pids=(812, 813), rss=1000 * MIB, mac=MacMemory(footprint=340 * MIB, resident=1000 * MIB, wired=2 * MIB)
    )


def test_a_linux_line_has_rss_only_and_a_partial_mac_sum_is_dropped() -> None:
    linux = {"pid": 9, "rss": 5 * MIB, "footprint": None, "resident": None, "wired": None, "hwm": 6 * MIB}
    assert parse_line(_line(linux)) == HelperReading(812.5, (9,), 5 * MIB, None)
    # One member without figures: the tree's footprint is unknown, not the other member's alone.
    assert parse_line(_line(_mac(8, MIB, MIB, 0), linux)).mac is None


@pytest.mark.parametrize(
    "line",
    [
        b"not json",
        b"[]",
        b'{"t": 1}',
        _line(),  # no process at all: not a reading of the tree
        _line({"pid": 9, "rss": -1}),
        _line({"pid": 9, "rss": "5"}),
        _line({"pid": True, "rss": 5}),
        _line({"pid": 9, "rss": 5}, t="soon"),
        _line({"pid": 9, "rss": 5, "footprint": 1.5, "resident": 1, "wired": 0}),
        b'{"t": 1, "procs": ["812"]}',  # a process that is not an object
    ],
)
def test_a_line_out_of_protocol_is_refused_never_read_as_zero(line: bytes) -> None:
    with pytest.raises(HelperFailed, match="memory helper sent"):
        parse_line(line)


def test_the_interval_is_whole_milliseconds_within_what_the_helper_takes() -> None:
    assert helper_interval_ms(0.05) == 50
    assert helper_interval_ms(0.0001) == 10
    assert helper_interval_ms(30.0) == 1000


def test_argv_is_sudo_n_then_the_helper_and_two_numbers() -> None:
    spec = HelperSpec("/usr/local/libexec/perfgate-rusage")
    assert spec.argv(812, 0.05) == ["/usr/bin/sudo", "-n", "/usr/local/libexec/perfgate-rusage", "812", "50"]
    assert HelperSpec("/x/perfgate-rusage", via=()).argv(7, 0.2) == ["/x/perfgate-rusage", "7", "200"]


def test_config_names_the_helper_by_absolute_path_only() -> None:
    assert helper_spec(RuntimeConfig()) is None
    config = RuntimeConfig(memory_helper="/usr/local/libexec/perfgate-rusage", memory_helper_via=())
    assert helper_spec(config) == HelperSpec("/usr/local/libexec/perfgate-rusage", ())
    with pytest.raises(ValueError, match="not an absolute path"):
        RuntimeConfig(memory_helper="tools/perfgate-rusage")


SUDO = ["/usr/bin/sudo", "-n", "/usr/local/libexec/perfgate-rusage", "812", "50"]
HELPER = "/usr/local/libexec/perfgate-rusage"


def test_a_sudo_refusal_names_the_sudoers_rule_to_add() -> None:
    # sudo -n without a rule: "sudo: a password is required" (sudo's plugins/sudoers/check.c), exit 1.
    message = failure_message(SUDO, HELPER, 1, "sudo: a password is required\n")
    assert sudoers_line(HELPER, "perfrunner") == f"perfrunner ALL=(root) NOPASSWD: {HELPER}"
    assert message.startswith(f"sudo refused to run the memory helper {HELPER} (sudo: a password is required)")
    assert f"/etc/sudoers.d/perfgate: '{sudoers_line(HELPER)}'" in message
    assert "\n" not in message


def test_the_helpers_own_reasons_are_passed_on_in_one_line() -> None:
    assert failure_message(SUDO, HELPER, 0, "perfgate-rusage: process 812 ended\n") == "runtime process 812 exited"
    refused = failure_message(SUDO, HELPER, 2, "perfgate-rusage: process 812 is 'bash', not a runtime (ollama)\n")
    assert refused == (
        f"memory helper {HELPER} stopped (exit 2): process 812 is 'bash', not a runtime (ollama) "
        "— see docs/ci-setup.md step 2b"
    )


class FakeHelper:
    """A started helper that hands out prepared readings, then stops as the real one says it."""

    def __init__(self, batches: list[list[HelperReading]], end: str) -> None:
        self.batches = batches
        self.end = end
        self.closed = False

    def readings(self) -> list[HelperReading]:
        if not self.batches:
            raise HelperFailed(self.end)
        return self.batches.pop(0)

    def close(self) -> None:
        self.closed = True


class FakeStarter:
    def __init__(self, helper: FakeHelper) -> None:
        self.helper = helper
        self.started: list[tuple[int, float]] = []

    def start(self, pid: int, interval_s: float) -> FakeHelper:
        self.started.append((pid, interval_s))
        return self.helper


def _denied(pid: int) -> MacMemory | None:
    raise RusageDenied(pid)  # what MacFootprintReader raises for another user's process (EPERM)


def test_the_sampler_falls_back_to_the_helper_on_the_other_user_refusal() -> None:
    me = os.getpid()
    first = HelperReading(1.0, (me, 99), 700 * MIB, MacMemory(200 * MIB, 700 * MIB, 1 * MIB))
    later = HelperReading(1.05, (me, 99), 900 * MIB, MacMemory(150 * MIB, 900 * MIB, 3 * MIB))
    helper = FakeHelper([[first, later], [first]], end="runtime process 812 exited")
    starter = FakeStarter(helper)
    sampler = MemorySampler(me, interval_s=0.05, footprint_reader=_denied, memory_helper=starter)

    peaks = sampler.window()  # one tick: two helper lines since the last, each figure's peak
    assert starter.started == [(me, 0.05)]
    assert (peaks.peak_runtime_rss_mb, peaks.peak_runtime_footprint_mb) == (900.0, 200.0)
    assert (peaks.peak_runtime_resident_mb, peaks.peak_runtime_wired_mb) == (900.0, 3.0)
    assert peaks.runtime_pids == tuple(sorted((me, 99)))
    assert peaks.unavailable_reason is None

    assert sampler.window().peak_runtime_rss_mb == 700.0  # the next window reads the helper again, not in process
    ended = sampler.window()
    assert ended.peak_runtime_rss_mb is None
    assert ended.unavailable_reason == "runtime process 812 exited"
    assert helper.closed
    assert starter.started == [(me, 0.05)]  # never restarted


def test_without_a_helper_the_other_user_line_points_to_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("perfgate.measure.owner.process_owner", lambda pid: "ollama")
    monkeypatch.setattr("perfgate.measure.owner.current_user", lambda: "perfrunner")
    peaks = MemorySampler(os.getpid(), footprint_reader=_denied).window()
    assert peaks.peak_runtime_rss_mb is None
    assert peaks.unavailable_reason is not None
    assert "runs as user ollama, perfgate as perfrunner" in peaks.unavailable_reason
    assert "set runtime.memory_helper" in peaks.unavailable_reason


def test_a_helper_that_cannot_start_is_the_reason() -> None:
    class Refusing:
        def start(self, pid: int, interval_s: float) -> FakeHelper:
            raise HelperFailed("sudo refused to run the memory helper /x (sudo: a password is required)")

    peaks = MemorySampler(os.getpid(), footprint_reader=_denied, memory_helper=Refusing()).window()
    assert peaks.peak_runtime_rss_mb is None
    assert peaks.unavailable_reason == "sudo refused to run the memory helper /x (sudo: a password is required)"


ROOT = Path(__file__).resolve().parents[2]


def test_the_docs_quote_the_message_and_install_what_the_config_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("perfgate.measure.memory_helper.current_user", lambda: "perfrunner")
    message = failure_message(SUDO, HELPER, 1, "sudo: a password is required\n")
    assert f"  runtime memory: unavailable ({message})" in (ROOT / "docs" / "troubleshooting.md").read_text("utf-8")

    setup = (ROOT / "docs" / "ci-setup.md").read_text(encoding="utf-8")
    step = setup[setup.index("### 2b. Let perfgate read the runtime's memory") :]
    assert f"echo '{sudoers_line(HELPER, 'perfrunner')}' | sudo tee /etc/sudoers.d/perfgate" in step
    assert f"sudo install -o root -g wheel -m 0755 tools/perfgate-rusage {HELPER}" in step
    block = step[step.index("```toml\n") + len("```toml\n") :]
    runtime = tomllib.loads(block[: block.index("```")])["tool"]["perfgate"]["runtime"]
    config = RuntimeConfig(**runtime)
    assert helper_spec(config) == HelperSpec(HELPER)  # through sudo -n, by default


def test_with_a_helper_a_runtime_of_another_user_is_located_not_refused() -> None:
    def other_user(pid: int) -> str:
        return f"runtime PID {pid} runs as user ollama, perfgate as perfrunner: memory cannot be read"

    me = os.getpid()
    with pytest.raises(MemoryUnavailable, match="runs as user ollama"):
        locate_runtime("http://127.0.0.1:1", pid=me, access_problem=other_user)
    assert locate_runtime("http://127.0.0.1:1", pid=me, access_problem=other_user, memory_helper=True) == me

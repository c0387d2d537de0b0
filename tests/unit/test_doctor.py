"""``perfgate doctor``'s checks, pure, over recorded macOS command outputs and scripted runtime answers.

The recorded outputs follow the formats Apple documents in its man pages --
pmset(1) for ``pmset -g`` (one ``key value`` setting a line, ``lowpowermode``
among them), ``pmset -g batt`` ("Now drawing from 'AC Power'") and ``pmset -g
therm``; mdutil(1) for ``mdutil -s`` (the volume, then "Indexing enabled." /
"Indexing disabled."); softwareupdate(8) for ``--schedule`` ("Automatic check
is on/off") -- as a Mac mini (M2, macOS 14) and a MacBook Pro print them.
"""

from __future__ import annotations

import httpx
import pytest
from support.runtime_http import mock_http

from perfgate.commands.doctor import CHECK_NAMES, render_text, run_checks
from perfgate.config import PerfgateConfig
from perfgate.doctor import checks, probes
from perfgate.doctor.checks import OwnerProbe, ProcessLoad, RuntimeProbe
from perfgate.doctor.probes import HOST_COMMANDS, Facts, gather, probe_runtime, runner_labels
from perfgate.measure.memory_helper import HelperFailed

PMSET_G_MAC_MINI = """\
System-wide power settings:
Currently in use:
 standby              0
 Sleep On Power Button 1
 autorestart          1
 powernap             1
 networkoversleep     0
 disksleep            0
 sleep                0 (sleep prevented by sharingd)
 hibernatemode        0
 ttyskeepawake        1
 displaysleep         10
 tcpkeepalive         1
 lowpowermode         0
 womp                 1
"""
PMSET_G_LOW_POWER = PMSET_G_MAC_MINI.replace("lowpowermode         0", "lowpowermode         1")
# A MacBook Pro with High Power Mode (pmset(1) `powermode`: 0 automatic, 1 low, 2 high).
PMSET_G_HIGH_POWER = " sleep                1\n powermode            2\n displaysleep         10\n"
PMSET_G_NO_SETTING = " sleep                1\n displaysleep         10\n"
PMSET_BATT_AC = "Now drawing from 'AC Power'\n"
PMSET_BATT_BATTERY = "".join((
    "Now drawing from 'Battery Power'\n",
    " -InternalBattery-0 (id=4653155)\t84%; discharging; 5:12 remaining present: true\n",
))  # fmt: skip
PMSET_THERM_NOMINAL = (
    "Note: No thermal warning level has been recorded\n"
    "Note: No performance warning level has been recorded\n"
    "Note: No CPU power status has been recorded\n"
)
PMSET_THERM_THROTTLED = "CPU_Scheduler_Limit \t= 100\nCPU_Available_CPUs \t= 8\nCPU_Speed_Limit \t= 71\n"
MDUTIL_ENABLED = "/System/Volumes/Data:\n\tIndexing enabled. \n"
MDUTIL_DISABLED = "/System/Volumes/Data:\n\tIndexing disabled.\n"
MDUTIL_SEARCH_DISABLED = "/:\n\tIndexing and searching disabled.\n"
SCHEDULE_ON = "Automatic check is on\n"
SCHEDULE_OFF = "Automatic check is off\n"

DIGEST = "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72"
UP = RuntimeProbe("ollama", "http://127.0.0.1:11434", "llama3.2", reachable=True, version="0.5.7", model_found=True,
                  digest=DIGEST)  # fmt: skip


def test_runtime_and_model():
    down = RuntimeProbe("ollama", "http://127.0.0.1:11434", "llama3.2", reachable=False, error="nothing listens")
    assert checks.check_runtime(down).status == "fail"
    assert "ollama serve" in (checks.check_runtime(down).fix or "")
    assert checks.check_model(down, None).status == "skip"
    assert checks.check_runtime(UP).status == "ok"
    assert checks.check_model(UP, None).status == "ok"
    assert checks.check_model(UP, DIGEST[:12]).status == "ok"
    assert checks.check_model(UP, f"sha256:{DIGEST}").status == "ok"
    wrong = checks.check_model(UP, "0" * 64)
    assert (wrong.status, wrong.fix) == ("fail", "`ollama pull llama3.2` again")
    assert checks.check_model(UP, DIGEST[:8]).status == "fail"  # too short a prefix proves nothing
    missing = RuntimeProbe("ollama", "u", "llama3.2", reachable=True, model_found=False)
    assert checks.check_model(missing, None).status == "fail"
    started = RuntimeProbe("sim", "u", "m", reachable=None)
    assert checks.check_runtime(started).status == checks.check_model(started, None).status == "skip"


def test_same_user():
    assert checks.check_same_user(OwnerProbe(41, "runner", True), "runner").status == "ok"
    other = checks.check_same_user(OwnerProbe(41, "ross", True), "runner")
    assert other.status == "fail"
    assert "runs as 'ross', perfgate as 'runner'" in other.detail
    denied = checks.check_same_user(OwnerProbe(41, None, False, "access denied reading its memory"), "runner")
    assert (denied.status, denied.detail) == ("fail", "pid 41: access denied reading its memory")
    assert checks.check_same_user(OwnerProbe(None, None, False, "nothing on port"), "runner").status == "fail"
    assert checks.check_same_user(None, "runner").status == "skip"


def test_power():
    assert checks.check_power("darwin", PMSET_BATT_AC, None).status == "ok"
    battery = checks.check_power("darwin", PMSET_BATT_BATTERY, None)
    assert (battery.status, battery.detail) == ("fail", "on Battery Power")
    assert checks.check_power("darwin", None, None).status == "fail"  # unknown is not fit
    assert checks.check_power("linux", None, None).status == "skip"
    assert checks.check_power("linux", None, "Battery Power").status == "fail"


@pytest.mark.parametrize(
    ("pmset_g", "status", "detail"),
    [
        (PMSET_G_MAC_MINI, "ok", "off"),
        (PMSET_G_LOW_POWER, "fail", "Low Power Mode is on: the CPU and GPU are held back"),
        (PMSET_G_HIGH_POWER, "ok", "High Power Mode"),
        (PMSET_G_HIGH_POWER.replace("powermode            2", "powermode            1"), "fail", None),
        (PMSET_G_NO_SETTING, "ok", "this Mac has no Low Power Mode setting"),
        (None, "fail", "`pmset -g` could not be read"),
    ],
)
def test_low_power_mode(pmset_g, status, detail):
    result = checks.check_low_power("darwin", pmset_g)
    assert result.status == status
    assert detail is None or result.detail == detail


def test_thermal():
    assert checks.check_thermal("darwin", PMSET_THERM_NOMINAL).status == "ok"
    throttled = checks.check_thermal("darwin", PMSET_THERM_THROTTLED)
    assert (throttled.status, throttled.detail) == ("fail", "throttled (CPU_Speed_Limit=71)")
    assert checks.check_thermal("darwin", None).status == "fail"
    assert checks.check_thermal("linux", None).status == "skip"


def test_spotlight():
    enabled = checks.check_spotlight("darwin", "/Users/runner/work", MDUTIL_ENABLED)
    assert enabled.status == "fail"
    assert "sudo mdutil -i off" in (enabled.fix or "")
    assert checks.check_spotlight("darwin", "/w", MDUTIL_DISABLED).status == "ok"
    assert checks.check_spotlight("darwin", "/w", MDUTIL_SEARCH_DISABLED).status == "ok"
    assert checks.check_spotlight("darwin", "/w", "Error: unknown indexing state.\n").status == "fail"
    assert checks.check_spotlight("linux", "/w", None).status == "skip"


def test_updates_need_checks_and_downloads_off():
    assert checks.check_updates("darwin", SCHEDULE_ON, "0").status == "fail"
    downloads = checks.check_updates("darwin", SCHEDULE_OFF, None)  # the preference unset: macOS's default, on
    assert downloads.status == "fail"
    assert "automatic downloads are on" in downloads.detail
    assert "AutomaticDownload -bool false" in (downloads.fix or "")
    assert checks.check_updates("darwin", SCHEDULE_OFF, "1\n").status == "fail"
    assert checks.check_updates("darwin", SCHEDULE_OFF, "0\n").status == "ok"
    assert checks.check_updates("darwin", "Automatic checking for updates is turned off\n", "0").status == "ok"
    assert checks.check_updates("darwin", None, "0").status == "fail"
    assert checks.check_updates("linux", None, None).status == "skip"


def test_heavy_processes():
    calm = [ProcessLoad(10, "WindowServer", 3.0), ProcessLoad(11, "mds_stores", 19.9)]
    assert checks.check_heavy_processes(calm, 20.0).status == "ok"
    busy = [*calm, ProcessLoad(12, "clang", 180.0), ProcessLoad(13, "mds_stores", 45.0)]
    result = checks.check_heavy_processes(busy, 20.0)
    assert (result.status, result.detail) == ("fail", "clang (pid 12) 180 %, mds_stores (pid 13) 45 %")


def test_tier_and_labels():
    wanted = ("self-hosted", "macOS", "ARM64", "perf-pro")
    assert checks.check_tier(None, "host matches no tier", wanted, None).status == "fail"
    assert checks.check_tier("pro", None, wanted, None).status == "ok"
    assert checks.check_tier("pro", None, wanted, ("self-hosted", "macOS", "ARM64", "perf-pro", "x")).status == "ok"
    lacking = checks.check_tier("pro", None, wanted, ("self-hosted", "macOS", "ARM64", "perf-base"))
    assert (lacking.status, lacking.detail) == ("fail", "tier pro, but the runner lacks the label(s) perf-pro")
    assert runner_labels(None, [("RUNNER_LABELS", "self-hosted, macOS ,perf-pro")]) == (
        "self-hosted",
        "macOS",
        "perf-pro",
    )
    assert runner_labels("a,b", [("RUNNER_LABELS", "c")]) == ("a", "b")
    assert runner_labels(None, []) is None


def test_host_commands():
    assert checks.check_host_commands("darwin", dict.fromkeys(HOST_COMMANDS, True)).status == "ok"
    missing = checks.check_host_commands("darwin", {**dict.fromkeys(HOST_COMMANDS, True), "/usr/bin/mdutil": False})
    assert (missing.status, missing.detail) == ("fail", "missing: /usr/bin/mdutil")
    assert checks.check_host_commands("linux", {}).status == "skip"
    assert all(path.startswith("/") for path in HOST_COMMANDS)


def _facts(**changes: object) -> Facts:
    fit = Facts(
        platform="darwin", me="runner", runtime=UP, owner=OwnerProbe(41, "runner", True), pmset_batt=PMSET_BATT_AC,
        pmset_g=PMSET_G_MAC_MINI, pmset_therm=PMSET_THERM_NOMINAL, mdutil=MDUTIL_DISABLED, schedule=SCHEDULE_OFF,
        automatic_download="0", tier="base", tier_labels=("perf-base",), commands=dict.fromkeys(HOST_COMMANDS, True),
    )  # fmt: skip
    return Facts(**{**fit.__dict__, **changes})


def _statuses(facts: Facts, **kwargs: object) -> dict[str, str]:
    options = {"expected_digest": None, "workspace": "/w", "labels": None, "max_other_cpu": 20.0, **kwargs}
    return {r.name: r.status for r in run_checks(facts, **options)}  # type: ignore[arg-type]


def test_a_fit_mac_passes_every_check_and_one_problem_fails_only_its_own():
    assert set(_statuses(_facts()).values()) == {"ok"}
    assert list(_statuses(_facts())) == list(CHECK_NAMES)
    spotlight = _statuses(_facts(mdutil=MDUTIL_ENABLED))
    assert [name for name, status in spotlight.items() if status != "ok"] == ["spotlight"]
    skipped = _statuses(_facts(mdutil=MDUTIL_ENABLED), skip=frozenset({"spotlight"}))
    assert skipped["spotlight"] == "skip"


def test_the_text_has_a_line_per_check_and_the_fix_under_a_failure():
    results = run_checks(
        _facts(pmset_batt=PMSET_BATT_BATTERY), expected_digest=None, workspace="/w", labels=None, max_other_cpu=20
    )
    lines = render_text(results).splitlines()
    assert len(lines) == len(CHECK_NAMES) + 1
    failed = [i for i, line in enumerate(lines) if line.startswith("FAIL")]
    assert len(failed) == 1
    assert "power adapter connected" in lines[failed[0]]
    assert lines[failed[0] + 1].strip().startswith("fix: connect the power adapter")


def test_probe_runtime_sorts_what_preflight_says():
    def ollama(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/version":
            return httpx.Response(200, json={"version": "0.5.7"})
        return httpx.Response(200, json={"models": [{"name": "llama3.2:latest", "digest": DIGEST, "details": {
            "quantization_level": "Q4_K_M"}}]})  # fmt: skip

    config = PerfgateConfig(runtime={"kind": "ollama", "model": "llama3.2"})
    probe = probe_runtime(config, mock_http(ollama))
    assert (probe.reachable, probe.model_found, probe.digest, probe.version) == (True, True, DIGEST, "0.5.7")
    missing = probe_runtime(config.model_copy(update={"runtime": config.runtime.model_copy(update={"model": "x"})}),
                            mock_http(ollama))  # fmt: skip
    assert (missing.reachable, missing.model_found) == (True, False)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    down = probe_runtime(config, mock_http(refused))
    assert down.reachable is False
    assert "nothing is listening" in (down.error or "")
    assert probe_runtime(PerfgateConfig(runtime={"kind": "sim"}), mock_http(refused)).reachable is None


def test_on_a_mac_every_host_command_runs_by_its_absolute_path():
    ran: list[tuple[str, ...]] = []

    def run(argv):
        ran.append(tuple(argv))

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    facts = gather(PerfgateConfig(), workspace="/Users/runner/work", skip={"heavy-processes", "same-user"}, run=run,
                   platform_name="darwin", http=mock_http(refused))  # fmt: skip
    # The doctor's own commands (the host facts' are perfgate.measure.host's, checked in its tests).
    assert {
        ("/usr/bin/pmset", "-g", "batt"),
        ("/usr/bin/pmset", "-g"),
        ("/usr/bin/pmset", "-g", "therm"),
        ("/usr/bin/mdutil", "-s", "/Users/runner/work"),
        ("/usr/sbin/softwareupdate", "--schedule"),
        ("/usr/bin/defaults", "read", "/Library/Preferences/com.apple.SoftwareUpdate", "AutomaticDownload"),
    } <= set(ran)
    assert facts.platform == "darwin"
    # Nothing could be read: every macOS check fails rather than passing on an unknown.
    statuses = _statuses(facts)
    for name in ("power", "low-power-mode", "thermal", "spotlight", "updates"):
        assert statuses[name] == "fail", name


def test_same_user_is_ok_when_another_users_runtime_is_read_through_the_memory_helper():
    via = checks.check_same_user(OwnerProbe(41, "ollama", True, via_helper=True), "runner")
    assert via.status == "ok"
    assert "memory helper" in via.detail
    # Without the helper the same runtime fails, and the fix names the helper first.
    other = checks.check_same_user(OwnerProbe(41, "ollama", True), "runner")
    assert other.status == "fail"
    assert "memory helper" in other.fix


class _FakeSource:
    def __init__(self, fail: bool) -> None:
        self.fail, self.closed = fail, False

    def readings(self) -> list[object]:
        if self.fail:
            raise HelperFailed("sudo refused to run the memory helper /usr/local/libexec/perfgate-rusage")
        return [object()]

    def close(self) -> None:
        self.closed = True


class _FakeStarter:
    def __init__(self, fail: bool) -> None:
        self.source = _FakeSource(fail)
        self.started: list[int] = []

    def start(self, pid: int, interval_s: float) -> _FakeSource:
        self.started.append(pid)
        return self.source


@pytest.mark.parametrize("fail", [False, True])
def test_the_doctor_reads_another_users_runtime_once_through_the_helper(fail: bool):
    starter = _FakeStarter(fail)
    owner = probes._through_helper(starter, 41, "ollama")
    assert starter.started == [41]
    assert starter.source.closed
    assert owner.memory_readable is (not fail)
    assert owner.via_helper is (not fail)
    if fail:
        assert "sudo refused" in (owner.error or "")

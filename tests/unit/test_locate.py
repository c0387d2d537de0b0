"""Finding the runtime by name when it belongs to another user (macOS hides its command line)."""

from __future__ import annotations

import psutil
import pytest

from perfgate.errors import MemoryUnavailable
from perfgate.measure import locate


class OtherUsersProcess:
    """As psutil's macOS Process answers for another user's process: the name (kinfo_proc), no cmdline."""

    def __init__(self, pid: int, name: str) -> None:
        self.pid = pid
        self._name = name

    def name(self) -> str:
        return self._name

    def cmdline(self) -> list[str]:
        raise psutil.AccessDenied(self.pid)


def test_a_process_whose_command_line_is_unreadable_is_still_found_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locate.psutil, "process_iter", lambda: iter([OtherUsersProcess(812, "ollama")]))
    assert locate._named_pids("ollama") == {812}
    assert locate._named_pids("llama-server") == set()


def test_another_users_runtime_is_refused_with_the_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locate.psutil, "pid_exists", lambda pid: True)
    line = "runtime PID 812 runs as user ollama, perfgate as perfrunner: memory cannot be read; ..."
    with pytest.raises(MemoryUnavailable, match="runs as user ollama, perfgate as perfrunner"):
        locate.locate_runtime("http://127.0.0.1:11434", pid=812, access_problem=lambda _pid: line)
    assert locate.locate_runtime("http://127.0.0.1:11434", pid=812, access_problem=lambda _pid: None) == 812

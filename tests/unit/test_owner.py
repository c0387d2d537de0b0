"""Whose process the runtime is: the one line perfgate says when it belongs to another user."""

from __future__ import annotations

import os

from perfgate.measure.owner import current_user, denied_message, memory_access_problem, process_owner

LINE = (
    "runtime PID 812 runs as user ollama, perfgate as perfrunner: memory cannot be read; run the runner as the "
    "runtime's user or the runtime under the runner's user, or set runtime.memory_helper "
    "(perfgate-rusage through sudo) — see docs/ci-setup.md"
)


def test_another_users_runtime_on_macos_is_named_in_one_line() -> None:
    problem = memory_access_problem(
        812, owner_of=lambda _pid: "ollama", me="perfrunner", is_root=False, platform_name="darwin"
    )
    assert problem == LINE


def test_same_user_root_linux_or_gone_is_no_problem() -> None:
    same = memory_access_problem(812, owner_of=lambda _pid: "perfrunner", me="perfrunner", platform_name="darwin")
    assert same is None
    as_root = memory_access_problem(
        812, owner_of=lambda _pid: "ollama", me="root", is_root=True, platform_name="darwin"
    )
    assert as_root is None
    # Linux lets any user read another's RSS (/proc/PID/statm): no problem there.
    assert memory_access_problem(812, owner_of=lambda _pid: "ollama", me="x", platform_name="linux") is None
    assert memory_access_problem(812, owner_of=lambda _pid: None, me="x", platform_name="darwin") is None


def test_denied_message_names_the_owner_or_says_it_is_the_same_user() -> None:
    assert denied_message(812, owner_of=lambda _pid: "ollama", me="perfrunner") == LINE
    same = denied_message(812, owner_of=lambda _pid: "perfrunner", me="perfrunner")
    assert same.startswith("access denied to runtime process 812")
    assert "runs as user" not in same


def test_own_process_is_owned_by_the_current_user() -> None:
    assert process_owner(os.getpid()) == current_user()
    assert process_owner(2**22 + 1) is None

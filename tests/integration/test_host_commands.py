"""``run_command``, the host probe's default command runner, running real processes.

(Moved from tests/unit/test_host.py, whose probes go through a fake runner.)
"""

from __future__ import annotations

import sys

from perfgate.measure.host import run_command

LABEL = "Ross\u2019s Mac mini"  # typographic apostrophe, as macOS writes it


def test_run_command_decodes_utf8_whatever_the_locale() -> None:
    script = "import sys; sys.stdout.buffer.write('Ross\\u2019s Mac mini\\n'.encode('utf-8'))"
    assert run_command([sys.executable, "-c", script]) == f"{LABEL}\n"


def test_run_command_failures_are_none() -> None:
    assert run_command(["/nonexistent/perfgate-no-such-command"]) is None
    assert run_command([sys.executable, "-c", "raise SystemExit(3)"]) is None

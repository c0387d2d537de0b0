"""The floor of issue 16 for the job log: nothing a results file says becomes a workflow command.

A GitHub Actions runner acts on a line of a step's output that starts with ``::``
(after leading whitespace) and on ``##[command]`` anywhere in a line; a carriage
return is a line break to it, and an ANSI escape reaches the reader's terminal.
Everything perfgate prints goes through ``Console`` (``perfgate.stdio.log_safe``;
one-line messages through ``one_line`` first): with every hostile string in every
field, no line of stdout or stderr starts a command or holds a control character.
"""

from __future__ import annotations

import io
import json

import pytest
from support.hostile import ALL_AT_ONCE, HOSTILE, hostile_report, hostile_result, live_log

from perfgate.cli import main
from perfgate.commands import Console
from perfgate.render.text import gate_text, run_report
from perfgate.stdio import json_for_log, log_safe, one_line

CASES = [*HOSTILE, ALL_AT_ONCE]
IDS = [f"hostile-{i}" for i in range(len(HOSTILE))] + ["all-at-once"]


def console() -> tuple[Console, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Console(out, err), out, err


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("::error::x", "\\::error::x"),
        ("  ::add-mask::secret", "\\  ::add-mask::secret"),
        ("ok\n::error::x\n", "ok\n\\::error::x\n"),
        ("a :: b", "a :: b"),  # only a line's start is a command
        ("say ##[error]x", "say ##\\[error]x"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("a\r\nb", "a\nb"),
        ("a\rb", "a\\x0db"),  # the runner would split the line here
        ("a\x85b\u2028c", "a\\x85b\\u2028c"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("", ""),
    ],
)
def test_log_safe_neutralises_commands_and_controls_and_keeps_lines(text, safe):
    assert log_safe(text) == safe
    assert live_log(log_safe(text)) == []


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("boom\n::error::x", "boom\\n::error::x"),
        ("a\r\nb\rc\n", "a\\nb\\nc"),
        ("\x1b[2J", "\\x1b[2J"),
        ("plain", "plain"),
    ],
)
def test_one_line_shows_each_line_break(text, line):
    assert one_line(text) == line


@pytest.mark.parametrize("text", CASES, ids=IDS)
def test_a_message_is_one_safe_line(text):
    out, err = console()[1:]
    shell = Console(out, err)
    shell.fail(f"runner said: {text}")
    assert err.getvalue().count("\n") == 1
    assert err.getvalue().startswith("perfgate: runner said: ")
    assert live_log(err.getvalue()) == []


@pytest.mark.parametrize("text", CASES, ids=IDS)
def test_printed_text_starts_no_command(text):
    shell, out, _ = console()
    shell.say(f"{text}\n{text}")
    assert live_log(out.getvalue()) == []


@pytest.mark.parametrize("text", CASES, ids=IDS)
def test_the_gate_table_in_the_log_starts_no_command(text):
    shell, out, err = console()
    report = hostile_report(text)
    shell.say(gate_text(report))
    for problem in report.problems:
        shell.fail(problem.message)
    assert live_log(out.getvalue()) == []
    assert live_log(err.getvalue()) == []
    # As many lines as with a plain name: a value's line break split no row and started no line.
    assert len(out.getvalue().splitlines()) == len(gate_text(hostile_report("plain")).splitlines())


@pytest.mark.parametrize("text", CASES, ids=IDS)
def test_the_run_report_in_the_log_starts_no_command(text):
    shell, out, _ = console()
    shell.say(run_report(hostile_result(text)))
    assert live_log(out.getvalue()) == []
    assert out.getvalue().splitlines()[1].startswith("model ")  # host, model and version stayed on their lines


@pytest.mark.parametrize("text", CASES, ids=IDS)
def test_json_printed_to_the_log_is_the_same_json_and_starts_no_command(text):
    document = json.dumps({"model": text, text: [text]}, indent=2, ensure_ascii=False)
    shell, out, _ = console()
    shell.say(json_for_log(document))
    assert json.loads(out.getvalue()) == json.loads(document)
    assert live_log(out.getvalue()) == []


def test_a_bad_flag_quoting_a_hostile_value_is_one_safe_line(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["gate", "--results-dir", "x", "extra\n::error::pwned", "##[add-mask]y"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("perfgate: unrecognized arguments: extra\\n::error::pwned ##\\[add-mask]y; see")
    assert live_log(err) == []

"""Untrusted text into GitHub Markdown: escaped text, plain names, code spans and blocks, commits.

Each is rendered by a real CommonMark parser (markdown-it-py, with GitHub's tables)
and must show the text as given with nothing live (``support.hostile.live_markdown``).
"""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt
from support.hostile import ALL_AT_ONCE, HOSTILE, live_markdown

from perfgate.markdown_escape import INVALID_SHA, code, code_block, commit, escape, is_sha, name

PARSER = MarkdownIt("commonmark").enable("table")


def inline(markdown: str) -> list[tuple[str, str]]:
    """The inline tokens of a one-paragraph document: (type, content)."""
    tokens = PARSER.parse(markdown)
    [paragraph] = [t for t in tokens if t.type == "inline"]
    return [(t.type, t.content) for t in paragraph.children or []]


def shown(markdown: str) -> str:
    """The text a reader sees (code and text joined), word joiners taken out."""
    return "".join(content for _, content in inline(markdown)).replace("\u2060", "")


@pytest.mark.parametrize("text", [*HOSTILE, ALL_AT_ONCE], ids=range(len(HOSTILE) + 1))
def test_escaped_text_is_shown_as_one_line_with_nothing_live(text):
    markdown = f"before {escape(text)} after"
    assert "\n" not in markdown
    assert "\r" not in markdown
    assert live_markdown(markdown) == []
    assert all(kind == "text" for kind, _ in inline(markdown))  # no code span, no emphasis, no HTML
    # The reader sees the text itself (its whitespace collapsed, control characters replaced).
    expected = " ".join(text.split())
    assert shown(markdown).replace("\ufffd", "") == "before " + _without_controls(expected) + " after"


def _without_controls(text: str) -> str:
    return "".join(c for c in text if not (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F))


@pytest.mark.parametrize("text", [*HOSTILE, ALL_AT_ONCE], ids=range(len(HOSTILE) + 1))
def test_escaped_text_keeps_a_table_row_whole(text):
    table = f"| a | b |\n|---|---|\n| {escape(text)} | end |\n"
    rows = [t for t in PARSER.parse(table) if t.type == "tr_open"]
    cells = [t for t in PARSER.parse(table) if t.type == "td_open"]
    assert len(rows) == 2
    assert len(cells) == 2  # the "|" inside did not split the cell
    assert live_markdown(table) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ttft_ms", "ttft_ms"),
        ("peak_runtime_rss_mb", "peak_runtime_rss_mb"),
        ("app_p95-ms", "app_p95-ms"),
        ("_lead", "\\_lead"),
        ("www.evil.example", "www\u2060.evil.example"),
        ("@octocat", "@\u2060octocat"),
        ("a<b>", "a\\<b\\>"),
    ],
)
def test_a_plain_name_is_kept_and_any_other_is_escaped(text, expected):
    assert name(text) == expected
    assert live_markdown(f"x {name(text)} y") == []


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("plain", "`plain`"),
        ("a`b", "``a`b``"),
        ("a``b```c", "````a``b```c````"),
        ("`", "`` ` ``"),
        ("`lead", "`` `lead ``"),
        ("trail`", "`` trail` ``"),
        ("x`@octocat", "``x`@octocat``"),
        ("`<b>B</b>", "`` `<b>B</b> ``"),
        ("two\nlines\r\n", "`two lines`"),
        ("", "—"),
    ],
)
def test_a_code_span_is_fenced_past_every_backtick_run_inside(text, span):
    assert code(text) == span


@pytest.mark.parametrize("text", [*HOSTILE, ALL_AT_ONCE], ids=range(len(HOSTILE) + 1))
def test_a_code_span_shows_its_text_verbatim_and_nothing_else(text):
    markdown = f"before {code(text)} after"
    kinds = [kind for kind, _ in inline(markdown)]
    assert kinds == ["text", "code_inline", "text"]  # one span, closed where it should be
    [content] = [content for kind, content in inline(markdown) if kind == "code_inline"]
    seen = content.replace("\ufffd", "").replace("\u2060", "").strip()  # a "-->" is shown with a word joiner
    assert seen == _without_controls(" ".join(text.split()))
    assert live_markdown(markdown) == []


@pytest.mark.parametrize("text", [*HOSTILE, ALL_AT_ONCE, "```\n<img src=x>\n```", "````"], ids=range(len(HOSTILE) + 3))
def test_a_code_block_cannot_be_closed_by_a_line_inside(text):
    markdown = code_block([f"perfgate run {text}", "second command"], "bash") + "\n\n<img src=x> after"
    tokens = PARSER.parse(markdown)
    fences = [t for t in tokens if t.type == "fence"]
    assert len(fences) == 1
    assert fences[0].info == "bash"
    assert fences[0].content.splitlines()[-1] == "second command"
    # The image after the block is outside it (it is the test's): the block ended at its own fence.
    assert [c.type for c in tokens[-2].children or []] == ["html_inline", "text"]


@pytest.mark.parametrize(
    ("sha", "expected"),
    [
        ("3f9c2e1ab4d5c6e7f8091a2b3c4d5e6f70819a2b", "`3f9c2e1ab4`"),
        ("abc1234", "`abc1234`"),
        (None, "—"),
        ("", "—"),
        ("abc123", INVALID_SHA),  # 6 digits: too short to be one
        ("3F9C2E1", INVALID_SHA),  # git writes lowercase
        ("x`@octocat", INVALID_SHA),
        ("`<b>B</b>", INVALID_SHA),
        ("abc1234\n::error::x", INVALID_SHA),
        ("a" * 41, INVALID_SHA),
    ],
)
def test_a_commit_is_shown_only_when_it_is_a_sha(sha, expected):
    assert commit(sha) == expected
    assert is_sha(sha) is expected.startswith("`")
    assert live_markdown(f"commit {commit(sha)}") == []

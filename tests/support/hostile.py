"""Hostile strings, and checks that Markdown and log text built from them left nothing live.

``live_markdown`` renders Markdown with a real CommonMark parser (markdown-it-py, with
GitHub's tables) and lists what a reader of GitHub would find live in it: a link, an
image, an autolink (``<https://…>`` or GitHub's bare ``https://…`` and ``www.``), HTML
that is not perfgate's own few tags, an ``@mention`` or a ``#123`` reference in text,
or a code fence of a language perfgate does not write. ``live_log`` lists the lines a
GitHub Actions runner would read as a workflow command, and every control character.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from markdown_it import MarkdownIt
from markdown_it.token import Token

HOSTILE_MODEL = "qwen<script>alert(1)</script> [x](https://evil.example) @org/team #1 | pipe"
HOSTILE_ERROR = "runner said:\n```\nboom `rm -rf` --> <!-- x -->\r\n| col | @org/team ](https://evil.example)"
# Each alone, then all at once: what the reviewers put in every field a results file has.
HOSTILE = (
    HOSTILE_MODEL,
    HOSTILE_ERROR,
    "-->",
    "x --> <img src=x onerror=alert(1)> <!--",
    "``` `` ` ````",
    "`",
    "x`@octocat",
    "`<b>B</b>",
    "::error::pwned",
    "ok\n::error file=a.py::pwned\n::add-mask::secret\n  ::stop-commands::tok",
    "@octocat",
    "<img src=x onerror=alert(1)>",
    "[x](https://evil.example)",
    "![i](https://evil.example/i.png)",
    "<https://evil.example>",
    "https://evil.example www.evil.example user@evil.example",
    "line one\nline two\r\nline three\rfour",
    "\x1b[31mred\x1b[0m \x1b]8;;https://evil.example\x07link\x1b]8;;\x07 \x9b2J",
    "##[error]legacy ##[add-mask]x",
    "&#64;octocat &lt;b&gt;",
    "_emphasis_ *strong* ~~gone~~ | a | b |",
)
ALL_AT_ONCE = " ".join(HOSTILE)

# The HTML perfgate writes itself; anything else in a summary came from outside.
OWN_HTML = frozenset(
    {
        "<details><summary>Provenance</summary>\n",
        "<details><summary>Chart: TTFT, baseline (line) vs current (bars)</summary>\n",
        "</details>",
        "</details>\n",
        "<sub>",
        "</sub>",
    }
)
OWN_FENCES = frozenset({"mermaid", "bash"})
_PARSER = MarkdownIt("commonmark").enable("table").enable("strikethrough")
_MENTION = re.compile(r"(?<![\w`])@[A-Za-z0-9]")
_REFERENCE = re.compile(r"(?<![\w&])#[0-9]")
_BARE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://|www\.", re.IGNORECASE)
# What the runner reads as a line break or a terminal as a command; tab and newline are text.
_LOG_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def _tokens(tokens: Iterable[Token]) -> Iterator[Token]:
    for token in tokens:
        yield token
        if token.children:
            yield from _tokens(token.children)


def live_markdown(text: str, *, references: bool = True) -> list[str]:
    """What is live in ``text`` rendered as GitHub Markdown (empty: nothing); ``references``: check ``#123`` too."""
    found: list[str] = []
    for token in _tokens(_PARSER.parse(text)):
        if token.type in ("link_open", "image"):
            found.append(f"{token.type} {token.attrs}")
        elif token.type in ("html_block", "html_inline") and token.content not in OWN_HTML:
            found.append(f"{token.type} {token.content!r}")
        elif token.type == "fence" and token.info not in OWN_FENCES:
            found.append(f"fence {token.info!r}")
        elif token.type == "text":
            for pattern in (_MENTION, _BARE_URL, *((_REFERENCE,) if references else ())):
                found += [f"text {match.group()!r} in {token.content!r}" for match in pattern.finditer(token.content)]
    # Outside code, "-->" closes an HTML comment (the sticky comment's marker is one).
    found += [f"comment end in {line!r}" for line in _outside_fences(text) if "-->" in line]
    return found


def _outside_fences(text: str) -> list[str]:
    lines, fence = [], ""
    for line in text.splitlines():
        stripped = line.lstrip()
        if fence:
            if stripped.startswith(fence) and not stripped.strip("`"):
                fence = ""
            continue
        match = re.match(r"`{3,}", stripped)
        if match:
            fence = match.group()
            continue
        lines.append(line)
    return lines


def live_log(text: str) -> list[str]:
    """The lines of ``text`` a GitHub Actions runner would act on, and those with a control character."""
    found: list[str] = []
    for line in text.split("\n"):
        if line.lstrip().startswith("::") or "##[" in line:
            found.append(f"workflow command: {line!r}")
        if _LOG_CONTROL.search(line):
            found.append(f"control character: {line!r}")
    return found

"""Untrusted text made safe to put into GitHub Markdown.

Every string that came from outside perfgate's own code (a results or baseline
file's model, host label, runtime version, commit, error messages, branch
names) goes through one of these before it is put into Markdown, so it cannot
break a table, open a link, an image or HTML (an ``-->`` closing a comment
included), or mention a user or team:

- ``escape``: text, on one line, with Markdown and HTML neutralised;
- ``name``: a tier, scenario, metric or field name (kept as it is when it is a
  plain name, escaped otherwise);
- ``code``: text shown verbatim in a code span fenced longer than any backtick
  run inside it; ``code_block`` the same for a fenced block;
- ``commit``: a commit SHA, shown only when it is one (``[0-9a-f]{7,40}``).

Layer 0: the renderers and the triage issue bodies both use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Only what can start formatting, a link, HTML or a table cell inside one line of text.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
# C0 and C1 control characters and DEL (whitespace among them is collapsed first): an escape
# sequence or a NUL means nothing in Markdown and is replaced, so it reaches no reader's terminal.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# A name nothing in GitHub's Markdown acts on: no dot (no "www." autolink), no "@", "#", ":" or
# markup, and no underscore at either end (an intraword "_" opens no emphasis).
_PLAIN_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?")
_BACKTICKS = re.compile(r"`+")
# Nothing of a code span is HTML, but "-->" would end an HTML comment the text were ever put in
# (the sticky comment's and the triage issues' markers are comments): a word joiner breaks it, unseen.
_COMMENT_END = "-->"
_COMMENT_END_BROKEN = "--\u2060>"
SHA_PATTERN = re.compile(r"[0-9a-f]{7,40}")
INVALID_SHA = "(invalid sha)"


def escape(text: str) -> str:
    """Neutralise Markdown and HTML in untrusted text, on one line."""
    text = " ".join(text.split())  # no newlines: they would end a table row
    text = _CONTROL.sub("\ufffd", text)
    text = text.replace("&", "&amp;")
    text = _SPECIAL.sub(r"\\\1", text)
    # "@user", "#123", bare URLs and "www." must not notify or link: a word joiner breaks each.
    text = text.replace("@", "@\u2060").replace("#", "#\u2060")
    return text.replace("://", ":\u2060//").replace("www.", "www\u2060.")


def name(text: str) -> str:
    """A tier, scenario, metric or field name: as it is when plain (``ttft_ms``), else escaped."""
    return text if _PLAIN_NAME.fullmatch(text) else escape(text)


def _fence_for(text: str, shortest: int) -> str:
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    return "`" * max(shortest, longest + 1)


def code(text: str) -> str:
    """``text`` verbatim in a code span, on one line (not in a table cell: use ``escape`` there).

    Nothing inside a code span is Markdown (no link, mention, HTML), so nothing
    needs escaping but its end: the fence is one backtick longer than the longest
    run of backticks inside, and the text is padded with a space on each side
    when it starts or ends with a backtick (CommonMark strips one space from each
    side). A GitHub table splits its cells at a ``|`` even inside a code span,
    which is why table cells take ``escape``. An ``-->`` gets an unseen word joiner.
    """
    text = _CONTROL.sub("\ufffd", " ".join(text.split())).replace(_COMMENT_END, _COMMENT_END_BROKEN)
    if not text:
        return "—"
    fence = _fence_for(text, 1)
    if text.startswith("`") or text.endswith("`"):
        text = f" {text} "
    return f"{fence}{text}{fence}"


def code_block(lines: Iterable[str], info: str = "") -> str:
    """Lines verbatim in a fenced code block that no line inside can close (``info``: the language)."""
    body = [
        _CONTROL.sub("\ufffd", line).replace(_COMMENT_END, _COMMENT_END_BROKEN)
        for text in lines
        for line in text.splitlines() or [""]
    ]
    fence = _fence_for("\n".join(body), 3)
    return "\n".join([f"{fence}{info}", *body, fence])


def is_sha(text: str | None) -> bool:
    """Whether ``text`` is a commit SHA as git writes one (7 to 40 lowercase hex digits)."""
    return text is not None and SHA_PATTERN.fullmatch(text) is not None


def commit(sha: str | None, *, length: int = 10, missing: str = "—") -> str:
    """A commit for Markdown: its first ``length`` digits in a code span, ``INVALID_SHA`` when it is not one."""
    if not sha:
        return missing
    return f"`{sha[:length]}`" if is_sha(sha) else INVALID_SHA


# Issue titles are plain text with code spans: a backslash would show, so characters are swapped instead.
_TITLE_SWAPS = str.maketrans({"`": "\u02cb", "<": "\u2039", ">": "\u203a"})


def escape_title(text: str) -> str:
    """Untrusted text for a GitHub issue title: one line, no code span, tag, mention, reference or link."""
    text = "".join(ch if ch.isprintable() else " " for ch in text)  # control and bidi characters
    text = " ".join(text.split()).translate(_TITLE_SWAPS)
    text = text.replace("@", "@\u2060").replace("#", "#\u2060")
    return text.replace("://", ":\u2060//").replace("www.", "www\u2060.")

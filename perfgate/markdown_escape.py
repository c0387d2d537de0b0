"""Untrusted text made safe to put into GitHub Markdown.

Every string that came from outside perfgate's own code (model names, error
messages, host labels, branch names) goes through ``escape`` before it is put
into Markdown, so it cannot break a table, open a link, or mention a user or
team. Layer 0: the renderers and the triage issue bodies both use it.
"""

from __future__ import annotations

import re

# Only what can start formatting, a link, HTML or a table cell inside one line of text.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def escape(text: str) -> str:
    """Neutralise Markdown and HTML in untrusted text, on one line."""
    text = " ".join(text.split())  # no newlines: they would end a table row
    text = text.replace("&", "&amp;")
    text = _SPECIAL.sub(r"\\\1", text)
    # "@user", "#123", bare URLs and "www." must not notify or link: a word joiner breaks each.
    text = text.replace("@", "@\u2060").replace("#", "#\u2060")
    return text.replace("://", ":\u2060//").replace("www.", "www\u2060.")


# Issue titles are plain text with code spans: a backslash would show, so characters are swapped instead.
_TITLE_SWAPS = str.maketrans({"`": "\u02cb", "<": "\u2039", ">": "\u203a"})


def escape_title(text: str) -> str:
    """Untrusted text for a GitHub issue title: one line, no code span, tag, mention, reference or link."""
    text = "".join(ch if ch.isprintable() else " " for ch in text)  # control and bidi characters
    text = " ".join(text.split()).translate(_TITLE_SWAPS)
    text = text.replace("@", "@\u2060").replace("#", "#\u2060")
    return text.replace("://", ":\u2060//").replace("www.", "www\u2060.")

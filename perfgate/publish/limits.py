"""What GitHub accepts: titles and bodies cut below its limits, with a note saying so.

GitHub refuses (HTTP 422) an issue title over 256 characters and an issue or
comment body over 65,536. A refusal would lose the whole write, so perfgate
cuts first: a title ends in "…", a body at a line boundary, followed by a note
that links the run (whose artifact holds the full report). Lengths are counted
in UTF-16 code units, which is never less than the characters GitHub counts.
"""

from __future__ import annotations

import re

TITLE_MAX = 256
BODY_MAX = 65_536
TRUNCATED = "… truncated; full report in the run's artifact"

# A run's page: https://<server>/<owner>/<repo>/actions/runs/<id>, nothing else becomes a link.
_RUN_URL = re.compile(r"https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/actions/runs/[0-9]+")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


def github_length(text: str) -> int:
    """Length as UTF-16 code units: a character outside the BMP counts twice."""
    return len(text.encode("utf-16-le")) // 2


def safe_run_url(url: str | None) -> str | None:
    """``url`` when it is a run's page on an https server (the only link perfgate writes), else None."""
    return url if url is not None and _RUN_URL.fullmatch(url) else None


def _cut(text: str, units: int) -> str:
    """The longest prefix of ``text`` of at most ``units`` UTF-16 code units (a pair is never split)."""
    kept = text[:units]
    while github_length(kept) > units:
        kept = kept[: len(kept) - max(1, (github_length(kept) - units) // 2)]
    return kept


def fit_title(title: str) -> str:
    """``title`` on one line, cut to GitHub's 256 with an ellipsis when longer."""
    title = " ".join(title.split())
    if github_length(title) <= TITLE_MAX:
        return title
    return _cut(title, TITLE_MAX - 1).rstrip() + "…"


def truncation_note(run_url: str | None) -> str:
    link = safe_run_url(run_url)
    return f"_{TRUNCATED}" + (f" ([run]({link}))" if link else "") + "._"


def _closing(markdown: str) -> str:
    """What closes the code fence and ``<details>`` blocks left open at the end of ``markdown``."""
    fence: str | None = None
    for line in markdown.split("\n"):
        match = _FENCE.match(line)
        if match is None:
            continue
        run = match.group(1)
        if fence is None:
            fence = run
        elif run[0] == fence[0] and len(run) >= len(fence) and not line.strip().strip(run[0]):
            fence = None
    tail = f"\n{fence}" if fence is not None else ""
    open_details = markdown.count("<details>") - markdown.count("</details>")
    return tail + "\n</details>" * max(0, open_details)


def fit_body(body: str, run_url: str | None = None, limit: int = BODY_MAX) -> str:
    """``body`` when it fits; else cut at a line, open blocks closed, and the truncation note."""
    if github_length(body) <= limit:
        return body
    note = "\n\n" + truncation_note(run_url) + "\n"
    room = limit - github_length(note)
    while True:
        kept = _cut(body, room)
        if "\n" in kept:
            kept = kept[: kept.rfind("\n")]  # a whole line: a cut word or escape reads as something else
        text = kept + _closing(kept) + note
        if github_length(text) <= limit:
            return text
        room -= github_length(text) - limit

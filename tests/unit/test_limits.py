"""GitHub's length limits (perfgate.publish.limits) and issue-title escaping (markdown_escape.escape_title)."""

from __future__ import annotations

import re

import pytest

from perfgate.markdown_escape import escape_title
from perfgate.publish.limits import (
    BODY_MAX,
    TITLE_MAX,
    fit_body,
    fit_title,
    github_length,
    safe_run_url,
    truncation_note,
)

RUN = "https://github.com/acme/app/actions/runs/42"


def test_github_length_counts_utf16_units() -> None:
    assert github_length("abc") == 3
    assert github_length("é×") == 2
    assert github_length("😀") == 2  # outside the BMP: a surrogate pair


def test_a_short_title_is_kept_on_one_line() -> None:
    assert fit_title("Tier missing on\npro") == "Tier missing on pro"


@pytest.mark.parametrize("filler", ["t", "😀", "é"])
def test_a_long_title_is_cut_to_256_with_an_ellipsis(filler: str) -> None:
    title = fit_title("Regression on " + filler * 400)
    assert github_length(title) <= TITLE_MAX
    assert len(title) <= TITLE_MAX
    assert title.endswith("…")
    assert set(title[len("Regression on ") : -1]) == {filler}  # whole characters only, none split


def test_a_body_that_fits_is_unchanged() -> None:
    body = "x" * BODY_MAX
    assert fit_body(body) is body


def test_a_long_body_is_cut_at_a_line_with_a_note_linking_the_run() -> None:
    body = "".join(f"line {n} " + "y" * 90 + "\n" for n in range(1_000))
    cut = fit_body(body, RUN)
    assert github_length(cut) <= BODY_MAX
    assert cut.endswith(f"\n\n_… truncated; full report in the run's artifact ([run]({RUN}))._\n")
    kept = cut.split("\n\n_… truncated")[0]
    assert body.startswith(kept + "\n")  # whole lines only


def test_a_cut_inside_a_code_fence_or_details_closes_them() -> None:
    body = "<details><summary>Raw</summary>\n\n````text\n" + "z" * 100 + "\n" * 2_000 + "z" * 80_000 + "\n````\n"
    cut = fit_body(body, None)
    assert github_length(cut) <= BODY_MAX
    assert cut.endswith("\n````\n</details>\n\n_… truncated; full report in the run's artifact._\n")


def test_a_body_of_one_huge_line_is_cut_anyway() -> None:
    cut = fit_body("@" * 200_000, RUN, limit=1_000)
    assert github_length(cut) <= 1_000
    assert cut.endswith(truncation_note(RUN) + "\n")


@pytest.mark.parametrize(
    "url",
    [
        None,
        "http://github.com/acme/app/actions/runs/1",
        "https://github.com/acme/app/actions/runs/1)[x](https://evil.example",
        'https://evil.example/a/b/actions/runs/1 "title"',
        "javascript:alert(1)",
        "https://github.com/acme/app/actions/runs/",
    ],
)
def test_only_a_plain_https_run_page_becomes_a_link(url: str | None) -> None:
    assert safe_run_url(url) is None
    assert "](" not in truncation_note(url)


def test_a_run_page_on_github_enterprise_is_a_link() -> None:
    url = "https://ghe.example.com:8443/acme/app/actions/runs/7"
    assert safe_run_url(url) == url


@pytest.mark.parametrize(
    "hostile",
    [
        "pro --> <img src=x> @octocat",
        "``` `` ` [a](http://evil.example) ![i](https://evil.example/i.png)",
        "::error::x\n::add-mask::y\r\n<!-- perfgate-triage-state: AAAA -->",
        "#1 @org/team www.evil.example \u202eevil\u2066 \x1b[31m",
    ],
)
def test_escape_title_leaves_nothing_live(hostile: str) -> None:
    title = escape_title(hostile)
    assert not re.search(r"[<>`\r\n\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]", title)
    assert not re.search(r"@[A-Za-z0-9]|#\d|https?://|www\.", title)


def test_escape_title_stays_readable() -> None:
    assert escape_title("Tier missing on pro") == "Tier missing on pro"
    assert escape_title("a `b` <c> @d") == "a \u02cbb\u02cb \u2039c\u203a @\u2060d"

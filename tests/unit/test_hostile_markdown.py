"""The floor of issue 16: nothing a results or baseline file says becomes live Markdown.

Every hostile string (``support.hostile``: the old hostile-summary set plus ``-->``,
backtick runs, ``::error::``, ``@octocat``, an ``<img onerror>``, a link, newlines and
ANSI escapes) is put, alone and all at once, into each field a results or baseline file
gives the gate: tier, scenario, host label, chip, model, digest, runtime version, commit,
messages, notes, warnings, changes, paths. The PR comment (``gate_summary``), the compare
Markdown, the report and the baseline diff are rendered by a real CommonMark parser and
must hold no link, image, autolink, HTML beyond perfgate's own tags, ``@mention``,
``#123`` reference or ``-->`` outside code; their tables keep every row whole.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.hostile import (
    ALL_AT_ONCE,
    HOSTILE,
    hostile_diff,
    hostile_report,
    hostile_result,
    live_markdown,
    outside_fences,
)

from perfgate.contracts.gate import TierSummary
from perfgate.contracts.results import LoadedResults
from perfgate.markdown_escape import INVALID_SHA
from perfgate.render.baseline_diff import diff_markdown
from perfgate.render.markdown import gate_markdown
from perfgate.render.report import ReportInput, report_markdown
from perfgate.render.summary import TriageRow, gate_summary

CASES = [*HOSTILE, ALL_AT_ONCE]
IDS = [f"hostile-{i}" for i in range(len(HOSTILE))] + ["all-at-once"]


def tables(markdown: str) -> list[list[str]]:
    """Each GitHub table of the text (outside code blocks): its lines."""
    found: list[list[str]] = []
    current: list[str] = []
    for line in [*outside_fences(markdown), ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            found.append(current)
            current = []
    return found


def cells(row: str) -> int:
    return len(re.findall(r"(?<!\\)\|", row)) - 1


def assert_tables_whole(markdown: str) -> None:
    for table in tables(markdown):
        assert len({cells(row) for row in table}) == 1, f"ragged table: {table}"
        assert all(row.endswith("|") for row in table), f"a row was split: {table}"


@pytest.mark.parametrize("text", CASES, ids=IDS)
def test_the_pr_comment_holds_nothing_live(text):
    report = hostile_report(text)
    triage = [TriageRow(text, f"TTFT +30 % on {text}", text, text, "Open (new)")]
    baseline_diff = diff_markdown([hostile_diff(text)])
    summary = gate_summary(report, triage, baseline_diff)
    assert live_markdown(summary) == []
    assert_tables_whole(summary)
    # Code fences: only the chart's own, opened and closed.
    assert [line for line in summary.splitlines() if line.startswith("```")] in ([], ["```mermaid", "```"])
    assert "#### Inputs refused" in summary  # the refused file is named, escaped


@pytest.mark.parametrize("text", CASES, ids=IDS)
def test_the_compare_markdown_holds_nothing_live(text):
    markdown = gate_markdown(hostile_report(text))
    assert live_markdown(markdown) == []
    assert_tables_whole(markdown)


@pytest.mark.parametrize("sha", ["x`@octocat", "`<b>B</b>", "abc1234\n::error::x", "[x](https://evil.example)"])
def test_a_commit_that_is_not_a_sha_is_shown_as_invalid(sha):
    summary = gate_summary(hostile_report("pro2").model_copy(update={"tiers": (TierSummary(tier="t", git_sha=sha),)}))
    overview = tables(summary)[0]
    assert overview[2].split("|")[5].strip() == INVALID_SHA
    assert live_markdown(summary) == []


@pytest.mark.parametrize("text", CASES, ids=IDS)
def test_the_report_holds_nothing_live(text):
    loaded = [LoadedResults(Path(f"perf-results/{text}.json"), hostile_result(text))]
    data = ReportInput(
        title=text,
        generated="2026-11-28",
        loaded=loaded,
        raw_paths=[f"raw/{text}.json"],
        gate=hostile_report(text),
        triage=[TriageRow(text, text, text, text, "Open")],
        expected_tiers=["pro"],
        memory_interval_ms=50,
    )
    markdown = report_markdown(data)
    assert live_markdown(markdown) == []
    assert_tables_whole(markdown)
    # The commands' block is one block, closed by its own fence.
    fences = [line for line in markdown.splitlines() if re.fullmatch(r"`{3,}(bash|mermaid)?", line)]
    assert len(fences) % 2 == 0


@pytest.mark.parametrize("text", CASES, ids=IDS)
def test_the_baseline_diff_holds_nothing_live(text):
    markdown = diff_markdown([hostile_diff(text)])
    assert live_markdown(markdown) == []
    assert_tables_whole(markdown)
    if text not in ("abc1234",):
        assert INVALID_SHA in markdown  # the provenance's commit is no SHA: not shown as one

"""The gate's Markdown summary (PR comment, job summary): golden files, hostile input, trimming.

Reports are built in code with fixed numbers, so the Markdown is byte-for-byte
stable. To rewrite the golden files after an intended change, run
``UPDATE_GOLDEN=1 pytest tests/unit/test_summary.py`` and review the diff.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from perfgate.config import GateConfig, TriageConfig
from perfgate.contracts.gate import Change, GateReport, Problem, TierSummary, Verdict, VerdictKind
from perfgate.contracts.triage import TriageEntry
from perfgate.decide.gate import gate_status
from perfgate.decide.headline import headline
from perfgate.errors import Kind
from perfgate.metrics import METRIC_UNITS
from perfgate.render.markdown import gate_markdown
from perfgate.render.summary import GITHUB_COMMENT_LIMIT, TriageRow, gate_summary
from perfgate.render.text import gate_text
from perfgate.render.triage_table import triage_rows
from perfgate.triage.policy import RunContext, findings_from_report, reconcile

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
TRIAGE = TriageConfig()
HOSTILE_MODEL = "qwen<script>alert(1)</script> [x](https://evil.example) @org/team #1 | pipe"
HOSTILE_ERROR = "runner said:\n```\nboom `rm -rf` --> <!-- x -->\r\n| col | @org/team ](https://evil.example)"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    assert path.is_file(), f"{path} is missing; run with UPDATE_GOLDEN=1 to write it"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs; UPDATE_GOLDEN=1 rewrites it"


# ---------------------------------------------------------------- builders


def verdict(
    tier: str,
    metric: str,
    kind: VerdictKind = VerdictKind.UNCHANGED,
    *,
    scenario: str = "short-explain",
    base: float | None = 100.0,
    change: float | None = 0.0,
    half_width: float = 0.03,
    n: tuple[int, int] = (15, 5),
    p_adjusted: float | None = 1.0,
    informational: bool = False,
    runs_needed: int | None = None,
    notes: tuple[str, ...] = (),
) -> Verdict:
    tested = change is not None
    return Verdict(
        tier=tier,
        scenario=scenario,
        metric=metric,
        unit=METRIC_UNITS[metric],
        direction="higher" if metric.endswith("_tok_s") else "lower",
        informational=informational,
        verdict=kind,
        threshold_worse=0.05 if metric.endswith("_tok_s") or metric.startswith("peak") else 0.10,
        threshold_better=0.05 if metric.endswith("_tok_s") or metric.startswith("peak") else 0.10,
        baseline_median=base,
        current_median=None if base is None or not tested else round(base * (1 + (change or 0.0)), 3),
        n_baseline=n[0],
        n_current=n[1],
        change=change,
        change_low=None if not tested else round((change or 0.0) - half_width, 4),
        change_high=None if not tested else round((change or 0.0) + half_width, 4),
        p_worse=None if p_adjusted is None else min(1.0, p_adjusted / 4),
        p_worse_adjusted=p_adjusted,
        runs_needed=runs_needed,
        notes=notes,
    )


def tier_summary(tier: str, *, model: str = "qwen2.5:7b-instruct-q4_K_M", **extra: object) -> TierSummary:
    data: dict[str, object] = {
        "tier": tier,
        "results_files": (f"perf-results/{tier}/results-{tier}.json",),
        "baseline_file": f"baselines/{tier}.json",
        "host_label": f"perf-{tier}-1",
        "chip": "Apple M2" if tier == "base" else "Apple M3 Pro",
        "runtime": "ollama 0.5.1",
        "model": model,
        "model_digest": "845dbda0ea48d7e3",
        "git_sha": "3f9c2e1ab4d5c6e7f8091a2b3c4d5e6f70819a2b",
        "baseline_created_at": "2026-11-20T10:00:00Z",
        "baseline_git_sha": "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
    }
    data.update(extra)
    return TierSummary.model_validate(data)


def make_report(
    tiers: Sequence[TierSummary],
    verdicts: Sequence[Verdict],
    problems: Sequence[Problem] = (),
    changes: Sequence[Change] = (),
) -> GateReport:
    """A report whose status and headline come from the real decision code."""
    status, code = gate_status(verdicts, problems, GateConfig())
    return GateReport(
        perfgate_version="0.1.0",
        created_at="2026-11-28T12:00:00Z",
        alpha=0.05,
        status=status,
        exit_code=int(code),
        headline=headline(status, verdicts, problems, [t.tier for t in tiers]),
        tiers=tuple(tiers),
        verdicts=tuple(verdicts),
        problems=tuple(problems),
        changes=tuple(changes),
    )


def tier_verdicts(tier: str, *, ttft: float = 120.0, scenario: str = "short-explain") -> list[Verdict]:
    """An unremarkable tier: everything within noise, memory informational."""
    return [
        verdict(tier, "ttft_ms", base=ttft, change=0.012, scenario=scenario),
        verdict(tier, "e2e_ms", base=1480.0, change=-0.004, half_width=0.01, scenario=scenario),
        verdict(tier, "decode_tok_s", base=45.2, change=0.003, half_width=0.01, scenario=scenario),
        verdict(
            tier,
            "peak_runtime_rss_mb",
            base=5210.0,
            change=0.001,
            half_width=0.002,
            informational=True,
            scenario=scenario,
        ),
    ]


def context(n: int, *, default_branch: bool = True) -> RunContext:
    return RunContext(
        date=f"2026-11-{n:02d}T12:00:00Z",
        commit=f"{n:02d}aa" + "b" * 36,
        run_id=str(7000 + n),
        url=f"https://github.com/acme/app/actions/runs/{7000 + n}",
        is_default_branch=default_branch,
    )


def rows_for(
    report: GateReport, ctx: RunContext, known: Sequence[TriageEntry] = (), config: TriageConfig = TRIAGE
) -> list[TriageRow]:
    """The Defect triage rows exactly as ``perfgate gate --triage`` computes them."""
    findings = findings_from_report(report, config)
    entries, actions = reconcile(known, findings, report, ctx, config)
    return triage_rows(findings, actions, entries, ctx, config, filing=True)


def clean_report() -> GateReport:
    return make_report(
        [tier_summary("base"), tier_summary("pro")],
        [*tier_verdicts("base", ttft=212.0), *tier_verdicts("pro", ttft=118.0)],
    )


def regression_report() -> GateReport:
    return make_report(
        [tier_summary("base"), tier_summary("pro")],
        [
            *tier_verdicts("base", ttft=212.0),
            # Confirmed by a sequential run (seen at two looks), so it is filed.
            verdict(
                "pro", "ttft_ms", VerdictKind.REGRESSED, base=118.0, change=0.312, half_width=0.066, p_adjusted=0.0031
            ).model_copy(update={"confirmed": True}),
            verdict(
                "pro",
                "e2e_ms",
                VerdictKind.INCONCLUSIVE,
                base=1480.0,
                change=0.061,
                half_width=0.07,
                p_adjusted=0.21,
                runs_needed=6,
                notes=("noisy current (CV 12 %)", "interval wider than the threshold"),
            ),
            verdict("pro", "decode_tok_s", VerdictKind.IMPROVED, base=45.2, change=0.081, half_width=0.02),
            verdict("pro", "peak_runtime_rss_mb", base=5210.0, change=0.001, half_width=0.002, informational=True),
        ],
        changes=[
            # The pull request moved both tiers to another quantization and lengthened one prompt.
            *(
                Change(tier=t, field="model", old="qwen2.5:7b-instruct-q4_K_M", new="qwen2.5:7b-instruct-q8_0")
                for t in ("base", "pro")
            ),
            Change(
                tier="pro",
                scenario="short-explain",
                field="prompt",
                old="1a2b3c4d" + "0" * 56,
                new="5e6f7a8b" + "f" * 56,
            ),
        ],
    )


def could_not_measure_report() -> GateReport:
    unavailable = "nothing is listening on http://127.0.0.1:11434 (is the runtime running?)"
    return make_report(
        [tier_summary("base", runtime="ollama ?", model_digest=None, git_sha=None), TierSummary(tier="pro")],
        [
            verdict("base", metric, VerdictKind.MISSING, base=value, change=None, n=(15, 0), p_adjusted=None)
            for metric, value in (("ttft_ms", 212.0), ("e2e_ms", 1480.0), ("decode_tok_s", 45.2))
        ],
        [
            Problem(kind=Kind.RUNTIME_UNAVAILABLE, tier="base", message=unavailable),
            Problem(
                kind=Kind.TIER_MISSING,
                tier="pro",
                message="no results for expected tier 'pro' (runner offline or job failed)",
            ),
        ],
    )


def hostile_report() -> GateReport:
    return make_report(
        [
            tier_summary(
                "base",
                model=HOSTILE_MODEL,
                host_label="mac|mini @org/team\n<img src=x>",
                chip="Apple M2 `](https://evil.example)",
                runtime="ollama 0.5.1 <b>",
                warnings=(f"os_major differs from the baseline (darwin 14 → {HOSTILE_MODEL})",),
            )
        ],
        [
            *tier_verdicts("base", scenario="short"),
            # A scenario name is a config key and may be anything TOML can quote.
            *tier_verdicts("base", scenario="x\n```\n" + HOSTILE_MODEL),
        ],
        [Problem(kind=Kind.RUNTIME_ERROR, tier="base", scenario="short", message=HOSTILE_ERROR)],
        [
            Change(tier="base", field="model", old="qwen", new=HOSTILE_MODEL),
            Change(tier="base", scenario="short", field="command", old=None, new=f"python app.py '{HOSTILE_ERROR}'"),
        ],
    )


# ---------------------------------------------------------------- golden files


def test_clean_two_tier_pass() -> None:
    report = clean_report()
    text = gate_summary(report, rows_for(report, context(1)))
    assert text.startswith("### ✅ perfgate: No regressions on 2 tiers\n")
    assert "No open defects." in text
    check_golden("summary-pass.md", text)


def test_one_regression_with_a_p1_triage_row() -> None:
    report = regression_report()
    earlier = rows_context_entries(report)
    text = gate_summary(report, rows_for(report, context(2), earlier))
    assert text.startswith("### ⛔ perfgate: 1 regression: TTFT +31 % on pro/short-explain\n")
    triage = section(text, "#### Defect triage")
    assert "| P1         | TTFT +31.2 % \\[+24.6, +37.8\\] on pro/short-explain (adjusted p = 0.0031)" in triage
    assert "Open (seen 2×) #12" in triage
    assert "Resolved #9" in triage
    check_golden("summary-regression.md", text)


def rows_context_entries(report: GateReport) -> list[TriageEntry]:
    """What earlier default-branch gates left: the TTFT regression (issue #12) and a runtime outage (#9)."""
    earlier = make_report(
        [tier_summary("base"), tier_summary("pro")],
        [v for v in report.verdicts if v.tier == "pro"],
        [Problem(kind=Kind.RUNTIME_UNAVAILABLE, tier="base", message="nothing listening")],
    )
    entries, _ = reconcile([], findings_from_report(earlier, TRIAGE), earlier, context(1), TRIAGE)
    numbers = {"regression:pro:short-explain:ttft_ms": 12, "runtime_unavailable:base:-:-": 9}
    return [e.model_copy(update={"issue_number": numbers[e.fingerprint]}) for e in entries]


def test_could_not_measure_tier_missing_and_runtime_unavailable() -> None:
    report = could_not_measure_report()
    text = gate_summary(report, rows_for(report, context(3, default_branch=False)))
    assert text.startswith("### ⚠️ perfgate: Could not measure: runtime unavailable, tier missing on base, pro\n")
    triage = section(text, "#### Defect triage")
    assert triage.count("| P1 ") == 2
    assert "Tier missing on pro" in triage
    assert "Runtime unavailable on base" in triage
    assert "Blocks performance capture on this tier." in triage
    assert "- **pro**: no results" in text
    check_golden("summary-could-not-measure.md", text)


def test_hostile_strings_are_neutralised() -> None:
    report = hostile_report()
    config = TriageConfig(owners={**TRIAGE.owners, "runtime_error": "@org/runtime-team"})
    text = gate_summary(report, rows_for(report, context(4), config=config))

    # Escaped ("\\<script") is shown as text; only an unescaped "<" could open a tag.
    assert not re.search(r"(?<!\\)<(script|img|b>)", text), "raw HTML survived"
    assert "](https://evil" not in text
    assert "https://evil" not in outside_fences(text)  # not even a bare autolink (code is never linked)
    assert not re.search(r"@org\b", text), "an @-mention survived"
    assert not re.search(r"#1\b", text), "an issue reference survived"
    assert "-->" not in text.replace('y-axis "ms" 0 -->', "")  # the chart's axis syntax is ours
    # Code fences: only the chart's own (one open, one close).
    assert [line for line in text.splitlines() if line.startswith("```")] == ["```mermaid", "```"]
    for table in tables(text):
        widths = {cell_count(row) for row in table}
        assert len(widths) == 1, f"ragged table: {table}"
        assert all(row.endswith("|") for row in table), "a row was split"
    triage = tables(section(text, "#### Defect triage"))[0]
    assert len(triage) == 3  # header, rule, one row: the message's newlines did not split the row
    assert "runner said: \\`\\`\\` boom \\`rm -rf\\` --\\>" in triage[2]
    check_golden("summary-hostile.md", text)


# ---------------------------------------------------------------- what changed


MODEL_LINE = "model: qwen2.5:7b-instruct-q4_K_M → qwen2.5:7b-instruct-q8_0 (base, pro)"
PROMPT_LINE = "prompt: sha256 1a2b3c4d → 5e6f7a8b (pro/short-explain)"


@pytest.mark.parametrize("render", [gate_summary, gate_markdown], ids=["summary", "compare-md"])
def test_what_changed_in_markdown_comes_before_the_verdict_tables(render) -> None:
    text = render(regression_report())
    changed = text.index("#### What changed")
    assert changed < text.index("#### base / short-explain")
    block = text[changed:].split("\n\n#### ", 1)[0]
    assert "- " + MODEL_LINE.replace("_", "\\_") in block  # escaped, like every value from outside
    assert f"- {PROMPT_LINE}" in block
    assert "reviewed commit" in block


def test_what_changed_in_the_terminal() -> None:
    text = gate_text(regression_report())
    head, *lines = text.split("what changed since the baseline", 1)[1].split("\n\n", 1)[0].splitlines()
    assert head == " (compared as the change under test)"
    assert lines == [f"  {MODEL_LINE}", f"  {PROMPT_LINE}"]
    assert text.index("what changed") < text.index("base / short-explain")


@pytest.mark.parametrize("render", [gate_summary, gate_markdown, gate_text])
def test_nothing_changed_means_no_section(render) -> None:
    assert "hat changed" not in render(clean_report())


def test_a_long_list_of_changes_is_cut_and_says_where_the_rest_is() -> None:
    changes = [
        Change(tier="pro", scenario=f"s{i:02d}", field="prompt", old=f"{i:08x}" + "0" * 56, new="f" * 64)
        for i in range(30)
    ]
    report = make_report([tier_summary("pro")], tier_verdicts("pro"), changes=changes)
    block = gate_summary(report).split("#### What changed", 1)[1].split("\n\n####", 1)[0]
    assert block.count("\n- prompt: ") == 20
    assert block.endswith("- _10 more in gate.json._")


def test_what_changed_survives_trimming() -> None:
    report = big_report(scenarios=60, changed=True).model_copy(
        update={"changes": (Change(tier="pro", field="model", old="small", new="medium"),)}
    )
    text = gate_summary(report)
    assert "gate.json" in text  # it was trimmed
    assert "- model: small → medium (pro)" in text


# ---------------------------------------------------------------- trimming


def big_report(*, scenarios: int, changed: bool) -> GateReport:
    """Three tiers × ``scenarios``, every metric; ``changed``: no row is 'unchanged', so none can be trimmed."""
    kinds = [VerdictKind.INCONCLUSIVE, VerdictKind.IMPROVED] if changed else [VerdictKind.UNCHANGED]
    verdicts = []
    for tier in ("base", "pro", "max"):
        for s in range(scenarios):
            for i, metric in enumerate(METRIC_UNITS):
                verdicts.append(
                    verdict(
                        tier,
                        metric,
                        kinds[(s + i) % len(kinds)],
                        scenario=f"scenario-{s:03d}",
                        base=100.0 + s + i,
                        change=0.01 * (i - 3),
                        informational=metric.startswith("peak_harness"),
                        notes=("noisy baseline (CV 11 %)",) if i % 3 == 0 else (),
                    )
                )
    # One real regression somewhere in the middle, so there is a triage row to keep.
    verdicts[len(verdicts) // 2] = verdict(
        "pro", "ttft_ms", VerdictKind.REGRESSED, scenario="scenario-007", change=0.4, p_adjusted=0.001
    )
    return make_report([tier_summary(t) for t in ("base", "pro", "max")], verdicts)


def test_trimming_drops_details_first() -> None:
    report = big_report(scenarios=40, changed=False)
    rows = rows_for(report, context(5))
    full = gate_summary(report, rows, limit=10**9)
    assert len(full) > GITHUB_COMMENT_LIMIT

    text = gate_summary(report, rows)

    assert len(text) <= GITHUB_COMMENT_LIMIT - 1_536
    assert text.startswith("### ⛔ perfgate: 1 suspected regression: TTFT +40 % on pro/scenario-007\n")
    assert "_Trimmed to fit GitHub's comment limit: the chart, provenance, informational and unchanged rows" in text
    assert "full report is in gate.json" in text
    assert "<details>" not in text  # provenance and chart go first
    assert "#### Defect triage" in text
    assert "TTFT +40.0 %" in section(text, "#### Defect triage")
    assert "🔴 regressed" in text  # the regressed row is never trimmed
    assert "⚪ unchanged" not in text
    assert "<sub>Gate regression (exit 1)." in text


def test_trimming_only_as_far_as_needed() -> None:
    report = big_report(scenarios=40, changed=False)
    full = gate_summary(report, limit=10**9)
    without_chart = full.split("<details><summary>Chart")[0]
    text = gate_summary(report, limit=len(without_chart) + 400)
    assert "<details><summary>Provenance</summary>" in text
    assert "<details><summary>Chart" not in text
    assert "_Trimmed to fit GitHub's comment limit: the chart left out;" in text


def test_an_oversized_gate_keeps_headline_and_triage_and_whole_rows() -> None:
    report = big_report(scenarios=60, changed=True)  # 1,800 rows, none of them trimmable
    rows = rows_for(report, context(6))
    limit = GITHUB_COMMENT_LIMIT - 1_536

    text = gate_summary(report, rows)

    assert len(text) <= limit
    assert text.startswith("### ⛔ perfgate: 1 suspected regression: TTFT +40 % on pro/scenario-007\n")
    assert "TTFT +40.0 %" in section(text, "#### Defect triage")
    assert "limit" in text
    assert "gate.json" in text
    for table in tables(text):  # every table that is shown is whole
        assert len({cell_count(row) for row in table}) == 1
        assert table[-1].endswith("|")


# ---------------------------------------------------------------- Markdown structure helpers


def section(text: str, heading: str) -> str:
    """From ``heading`` to the next blank-line-separated heading or footer."""
    start = text.index(heading)
    rest = text[start + len(heading) :]
    end = min(i for i in (rest.find("\n\n### "), rest.find("\n\n<details>"), rest.find("\n\n<sub>")) if i >= 0)
    return heading + rest[:end]


def tables(text: str) -> list[list[str]]:
    """Every Markdown table: runs of consecutive lines starting with '|'."""
    found: list[list[str]] = []
    current: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            found.append(current)
            current = []
    return found


def outside_fences(text: str) -> str:
    """The text with fenced code blocks removed (GitHub renders nothing inside them)."""
    return re.sub(r"^```.*?^```$", "", text, flags=re.MULTILINE | re.DOTALL)


def cell_count(row: str) -> int:
    """Cells in one table row: unescaped pipes minus one."""
    return len(re.findall(r"(?<!\\)\|", row)) - 1


@pytest.mark.parametrize("name", ["summary-pass.md", "summary-regression.md", "summary-could-not-measure.md"])
def test_golden_files_are_well_formed(name: str) -> None:
    text = (GOLDEN / name).read_text(encoding="utf-8")
    assert text.endswith("</sub>\n")
    assert "\r" not in text
    for table in tables(text):
        assert len({cell_count(row) for row in table}) == 1


def test_a_sequential_runs_report_says_at_which_alpha_its_regressions_were_tested() -> None:
    plain = regression_report()
    sequential = plain.model_copy(update={"look_alpha": 0.018})
    note = "sequential run: regressions tested at the last look's share, α = 0.0180"
    assert note in gate_summary(sequential, rows_for(sequential, context(1)))
    assert note in gate_text(sequential)
    assert note in gate_markdown(sequential)
    assert "sequential run" not in gate_summary(plain, rows_for(plain, context(1)))


# ---------------------------------------------------------------- the interval's level follows alpha


@pytest.mark.parametrize(("alpha", "level"), [(0.05, "90 %"), (0.10, "80 %"), (0.025, "95 %")])
def test_the_table_header_names_the_interval_level_the_footer_states(alpha: float, level: str) -> None:
    report = regression_report().model_copy(update={"alpha": alpha})
    text = gate_summary(report, rows_for(report, context(1)))

    footer = re.search(r"with its (\d+ %) interval;", text)
    assert footer is not None
    assert footer.group(1) == level
    headers = [table[0] for table in tables(text) if table[0].startswith("| metric")]
    assert len(headers) == 2  # one per tier/scenario
    assert all(re.search(rf"\|\s*change \[{level} interval\]\s*\|", header) for header in headers), headers
    assert text.count(" % interval]") == len(headers)  # no header left at another level


@pytest.mark.parametrize(
    ("scenarios", "changed", "trimmed"),
    [(40, False, "informational and unchanged rows left out"), (60, True, "some verdict tables left out")],
)
def test_trimming_lays_out_each_distinct_table_once(
    monkeypatch: pytest.MonkeyPatch, scenarios: int, changed: bool, trimmed: str
) -> None:
    import perfgate.render.summary  # noqa: PLC0415 -- the module whose table layouts are counted

    report = big_report(scenarios=scenarios, changed=changed)  # every trimming step, then the bisection
    rows = rows_for(report, context(5))
    expected = gate_summary(report, rows)
    calls = 0
    real = perfgate.render.summary.RowTable.lay_out

    def counting(*args: Any, **kwargs: Any) -> str:
        nonlocal calls
        calls += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(perfgate.render.summary.RowTable, "lay_out", counting)
    assert gate_summary(report, rows) == expected
    assert trimmed in expected
    # Each tier/scenario table at most three times: all rows, without informational, without unchanged.
    groups = len({(v.tier, v.scenario) for v in report.verdicts})
    assert calls > 0
    assert calls <= 3 * groups

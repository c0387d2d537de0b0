"""``run_until_conclusive``: the look loop with an injected ``more`` (no runtime, no sockets).

The gate is real (``compare`` reads a baseline written to a temporary
directory); only the measuring is replaced by a function that appends
seeded synthetic samples, so which scenarios are re-run, with how many runs,
and why the loop stops can be checked exactly.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.synthetic import baseline_of, lognormal_columns, make_baseline, make_result, samples_from, write_baselines

from perfgate.cli import main
from perfgate.config import PerfgateConfig, SequentialConfig
from perfgate.contracts.gate import GateReport, GateStatus, Verdict, VerdictKind
from perfgate.contracts.results import LoadedResults, RunResult
from perfgate.decide.sequential import sequential_alpha
from perfgate.errors import ExitCode, LookFailed
from perfgate.measure.look_worker import decide_look
from perfgate.measure.sequential import run_until_conclusive
from perfgate.render.text import run_report


class FakeRuns:
    """``more``: appends ``runs`` samples per named scenario, drawn around TYPICAL × ``scale``."""

    def __init__(self, *, scale: dict[str, float] | None = None, cv: dict[str, float] | None = None) -> None:
        self.scale, self.cv = scale or {}, cv or {}
        self.calls: list[tuple[frozenset[str], int]] = []

    def __call__(self, result: RunResult, scenarios: set[str], runs: int) -> RunResult:
        self.calls.append((frozenset(scenarios), runs))
        updated = []
        for i, scenario in enumerate(result.scenarios):
            if scenario.name not in scenarios:
                updated.append(scenario)
                continue
            seed = 1_000 + 17 * len(self.calls) + i
            extra = samples_from(lognormal_columns(seed, runs, scale=self.scale, cv=self.cv))
            start = len(scenario.samples)
            extra = tuple(s.model_copy(update={"iteration": start + j}) for j, s in enumerate(extra))
            updated.append(scenario.model_copy(update={"samples": scenario.samples + extra}))
        return result.model_copy(update={"scenarios": tuple(updated)})


@pytest.fixture
def baselines(tmp_path: Path) -> Path:
    """A 15-run baseline of tier 'pro' at 2 % CV, from 3 sessions (as recommended)."""
    return write_baselines(tmp_path / "baselines", make_baseline(seed=1, n=15))


def config(baselines: Path, **sequential: object) -> PerfgateConfig:
    return PerfgateConfig(baselines_dir=str(baselines), sequential=SequentialConfig.model_validate(sequential))


def test_a_clear_regression_is_confirmed_by_one_more_batch_and_then_stops(baselines):
    first = make_result(seed=2, n=5, scale={"ttft_ms": 1.3})
    more = FakeRuns(scale={"ttft_ms": 1.3})
    result = run_until_conclusive(first, config=config(baselines), more=more, look=decide_look)
    record = result.sequential
    assert record is not None
    assert [look.verdicts["short-explain/ttft_ms"] for look in record.looks] == ["regressed", "regressed"]
    assert set(record.confirmed) == {"short-explain/ttft_ms", "prefill/ttft_ms"}
    assert record.stopped == "settled"
    assert more.calls == [(frozenset({"short-explain", "prefill"}), 4)]
    assert record.looks[0].rerun == ("prefill", "short-explain")
    assert record.looks[1].runs == {"short-explain": 9, "prefill": 9}
    assert record.looks[0].alpha < record.looks[1].alpha < 0.05


def test_nothing_in_doubt_stops_at_the_first_look_without_more_runs(baselines):
    first = make_result(seed=3, n=5)
    more = FakeRuns()
    result = run_until_conclusive(first, config=config(baselines), more=more, look=decide_look)
    assert result.sequential is not None
    assert result.sequential.stopped == "settled"
    assert len(result.sequential.looks) == 1
    assert more.calls == []


def test_a_true_zero_change_in_doubt_gets_more_runs_and_settles_unchanged(tmp_path):
    # TTFT at 12 % CV, as test_cli_sequential.py runs the simulator: 5 runs against 30 leave a true 0 %
    # inconclusive at look 1; one more batch of 5 settles it. (The live run there can only show that
    # an unchanged build is never called a regression: how busy the machine was between its baseline
    # and it moves the verdict, not the procedure.)
    noisy = {"ttft_ms": 0.12}
    one_scenario = ("short-explain",)
    baselines = write_baselines(tmp_path / "noisy-ttft", make_baseline(seed=3, n=30, scenarios=one_scenario, cv=noisy))
    first = make_result(seed=3, n=5, scenarios=one_scenario, cv=noisy)
    more = FakeRuns(cv=noisy)
    result = run_until_conclusive(
        first, config=config(baselines, max_looks=5, batch_runs=5), more=more, look=decide_look
    )
    record = result.sequential
    assert record is not None
    assert [look.verdicts["short-explain/ttft_ms"] for look in record.looks] == ["inconclusive", "unchanged"]
    assert record.stopped == "settled"
    assert record.confirmed == ()
    assert more.calls == [(frozenset(one_scenario), 5)]


@pytest.fixture
def noisy_decode_baseline(tmp_path: Path) -> Path:
    """A baseline whose decode rate varies by 25 %: no number of current runs narrows the
    interval below the 5 % threshold, so the estimate says "needs a larger baseline"."""
    return write_baselines(tmp_path / "noisy", baseline_of(make_result(seed=1, n=15, cv={"decode_tok_s": 0.25})))


def test_a_verdict_only_a_larger_baseline_can_settle_costs_no_runs(noisy_decode_baseline):
    first = make_result(seed=4, n=5, scenarios=("short-explain",))
    more = FakeRuns()
    result = run_until_conclusive(first, config=config(noisy_decode_baseline), more=more, look=decide_look)
    record = result.sequential
    assert record is not None
    (look,) = record.looks
    assert look.verdicts["short-explain/decode_tok_s"] == "inconclusive"
    assert record.stopped == "out_of_reach"
    assert look.rerun == ()
    assert more.calls == []


def test_a_suspected_regression_is_chased_even_when_the_estimate_says_out_of_reach(noisy_decode_baseline):
    # Same noisy baseline, seed 4: prefill's decode estimate is -6.9 % (past the 5 % threshold,
    # not significant) and gets every look; short-explain's -0.9 % is out of reach and gets none.
    first = make_result(seed=4, n=5)
    more = FakeRuns()
    result = run_until_conclusive(first, config=config(noisy_decode_baseline), more=more, look=decide_look)
    record = result.sequential
    assert record is not None
    assert record.looks[0].verdicts["prefill/decode_tok_s"] == "inconclusive"
    assert all(scenarios == frozenset({"prefill"}) for scenarios, _ in more.calls)
    assert len(more.calls) == len(record.looks) - 1 >= 1
    assert {look.runs["short-explain"] for look in record.looks} == {5}


def test_max_runs_caps_the_last_batch_and_is_the_stop_reason(baselines):
    # +30 % TTFT keeps the scenarios re-run until confirmed; a cap of 7 runs allows 2 more, not 3.
    first = make_result(seed=2, n=5, scale={"ttft_ms": 1.3})
    more = FakeRuns(scale={"ttft_ms": 1.3}, cv={"ttft_ms": 0.30})
    result = run_until_conclusive(first, config=config(baselines, max_runs=7), more=more, look=decide_look)
    record = result.sequential
    assert record is not None
    assert more.calls[0][1] == 2
    assert all(runs <= 7 for look in record.looks for runs in look.runs.values())
    assert {len(s.samples) for s in result.scenarios} == {7}
    # the 2 extra runs are 30 % CV: still not confirmed, and no room is left
    assert record.stopped == "max_runs"
    assert record.looks[-1].rerun == ()


def test_a_look_that_cannot_be_decided_stops_the_run_and_keeps_every_sample(baselines):
    calls = 0

    def failing_second_look(result: RunResult, cfg: PerfgateConfig, alpha: float) -> GateReport:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise LookFailed("deciding a look failed: baselines/pro.json: baseline file is not valid JSON")
        return decide_look(result, cfg, alpha)

    first = make_result(seed=2, n=5, scale={"ttft_ms": 1.3})
    result = run_until_conclusive(
        first, config=config(baselines), more=FakeRuns(scale={"ttft_ms": 1.3}), look=failing_second_look
    )
    record = result.sequential
    assert record is not None
    assert record.stopped == "error"
    assert record.error == "look 2: deciding a look failed: baselines/pro.json: baseline file is not valid JSON"
    assert len(record.looks) == 1
    assert {len(s.samples) for s in result.scenarios} == {9}  # the 4 runs after look 1 are kept
    assert record.confirmed == ()  # seen once, never confirmed
    # The gate on this file is look 2 (its last 4 runs were never looked at), not look 1 again.
    levels, _ = sequential_alpha([LoadedResults(Path("r.json"), result)], 0.05)
    assert levels == {"pro": pytest.approx(0.05 * 3 / 36)}


def report_of(verdicts: list[tuple[str, VerdictKind, int | None]]) -> GateReport:
    """A gate report with one ttft_ms verdict per (scenario, verdict, runs_needed)."""
    return GateReport(
        perfgate_version="0.1.0",
        created_at="2026-11-28T12:00:00Z",
        alpha=0.05,
        status=GateStatus.PASS,
        exit_code=0,
        headline="",
        tiers=(),
        problems=(),
        verdicts=tuple(
            Verdict(
                tier="pro",
                scenario=scenario,
                metric="ttft_ms",
                unit="ms",
                direction="lower",
                informational=False,
                verdict=kind,
                threshold_worse=0.1,
                threshold_better=0.1,
                change=0.3 if kind is VerdictKind.REGRESSED else 0.02,
                runs_needed=needed,
            )
            for scenario, kind, needed in verdicts
        ),
    )


def test_a_regression_is_confirmed_only_after_fresh_runs_of_its_scenario(baselines):
    # short-explain: inconclusive, re-run to the cap of 8; then regressed with no room left while
    # prefill keeps the run going. At look 3 it is still regressed on the same 8 samples: that
    # repeats a verdict, it does not confirm it.
    looks = iter(
        [
            [("short-explain", VerdictKind.INCONCLUSIVE, 2), ("prefill", VerdictKind.UNCHANGED, None)],
            [("short-explain", VerdictKind.REGRESSED, None), ("prefill", VerdictKind.INCONCLUSIVE, 2)],
            [("short-explain", VerdictKind.REGRESSED, None), ("prefill", VerdictKind.UNCHANGED, None)],
        ]
    )
    more = FakeRuns()
    result = run_until_conclusive(
        make_result(seed=2, n=5),
        config=config(baselines, max_runs=8),
        more=more,
        look=lambda *_: report_of(next(looks)),
    )
    record = result.sequential
    assert record is not None
    assert [look.rerun for look in record.looks] == [("short-explain",), ("prefill",), ()]
    assert record.looks[2].runs == {"short-explain": 8, "prefill": 8}
    assert record.confirmed == ()
    assert record.stopped == "max_runs"


def test_the_run_report_shows_every_look_and_why_the_run_stopped(baselines):
    first = make_result(seed=2, n=5, scale={"ttft_ms": 1.3})
    result = run_until_conclusive(
        first, config=config(baselines), more=FakeRuns(scale={"ttft_ms": 1.3}), look=decide_look
    )
    text = run_report(result)
    assert "short-explain  (9 samples: 5 + 4 more)" in text
    assert "sequential run: 2 of at most 6 looks · stopped: settled (every gating verdict settled)" in text
    assert "confirmed regressions: prefill/ttft_ms, short-explain/ttft_ms" in text
    rows = [line.split() for line in text.splitlines() if line[:2] in {"1 ", "2 "}]
    assert [row[:2] for row in rows] == [["1", "0.0014"], ["2", "0.0042"]]
    assert rows[0][-2:] == ["prefill,", "short-explain"]  # re-run after look 1
    assert rows[1][-1] == "—"  # nothing after the last look


def test_the_cli_keeps_the_results_and_exits_3_when_a_look_failed(tmp_path, monkeypatch, capsys):
    (tmp_path / "pro.json").write_text("not json", encoding="utf-8")
    stopped = run_until_conclusive(make_result(seed=2, n=5), config=config(tmp_path), more=FakeRuns(), look=decide_look)
    monkeypatch.setattr("perfgate.commands.run.measure", lambda *_args, **_kw: stopped)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--out", "r.json"]) == ExitCode.COULD_NOT_MEASURE
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "sequential" in x]
    assert line.startswith("perfgate: sequential run stopped: look 1: ")
    assert "pro.json" in line
    written = RunResult.model_validate_json((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert written.sequential is not None
    assert written.sequential.stopped == "error"
    assert written.scenarios == stopped.scenarios


def test_with_compare_a_failed_look_still_fails_the_run_unless_a_regression_says_more(
    baselines, tmp_path, monkeypatch, capsys
):
    def broken(*_args: object) -> GateReport:
        raise LookFailed("the look process exited (code -9)")

    stopped = run_until_conclusive(make_result(seed=3, n=5), config=config(baselines), more=FakeRuns(), look=broken)
    monkeypatch.setattr("perfgate.commands.run.measure", lambda *_args, **_kw: stopped)
    monkeypatch.chdir(tmp_path)
    argv = ["run", "--out", "r.json", "--compare", "--baselines-dir", str(baselines)]
    assert main(argv) == ExitCode.COULD_NOT_MEASURE  # the gate itself passes on these 5 runs
    out, err = capsys.readouterr()
    assert "gate: pass (exit 0)" in out
    assert "perfgate: sequential run stopped: look 1: the look process exited (code -9)" in err.splitlines()
    slower = make_result(seed=3, n=5, scale={"ttft_ms": 1.3})
    stopped_slower = run_until_conclusive(slower, config=config(baselines), more=FakeRuns(), look=broken)
    monkeypatch.setattr("perfgate.commands.run.measure", lambda *_args, **_kw: stopped_slower)
    assert main(argv) == ExitCode.REGRESSION

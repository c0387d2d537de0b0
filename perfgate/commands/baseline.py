"""``perfgate baseline update | diff``: move a tier's baseline, and show a reviewer what moved.

update: collect results files (each sample checked as it is read) → build the
baseline (refusing bad input) → write ``baselines/<tier>.json`` → print old vs
new, and a warning for each gated metric too noisy to gate on.
diff: every baseline changed since a git ref, old vs new.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from perfgate.commands import Console, Outcome
from perfgate.config import PerfgateConfig
from perfgate.contracts.baseline import Baseline, baseline_path, load_baseline, parse_baseline
from perfgate.contracts.collect import collect_results
from perfgate.decide.baseline import BaselineDiff, NoisyMetric, build_baseline, diff_baselines, noisy_metrics
from perfgate.errors import BadFileError, NewerSchemaError
from perfgate.files import read_text_limited, write_model
from perfgate.gitutil import git_ls, git_show
from perfgate.provenance import utc_now_iso


def changed_baselines(baselines_dir: Path, base_ref: str) -> list[BaselineDiff]:
    """Every baseline file that differs from ``base_ref`` (added, changed or deleted)."""
    current = {p.name: p for p in sorted(baselines_dir.glob("*.json"))}
    listed = git_ls(base_ref, baselines_dir)
    diffs: list[BaselineDiff] = []
    for name in sorted(set(current) | listed):
        rel = (baselines_dir / name).as_posix()
        old_text = git_show(base_ref, rel) if name in listed else None
        new_text = read_text_limited(current[name], "baseline") if name in current else None
        if old_text == new_text:
            continue
        old = parse_baseline(old_text, f"{base_ref}:{rel}")
        new = load_baseline(current[name]) if name in current else None
        diffs.append(diff_baselines(rel, old, new))
    return diffs


def execute_update(args: argparse.Namespace, config: PerfgateConfig, console: Console) -> Outcome:
    from perfgate.render.baseline_diff import diff_text  # noqa: PLC0415

    loaded = collect_results([Path(p) for p in args.from_])
    new = build_baseline(loaded, tier=args.tier, config=config, created_at=utc_now_iso())
    path = baseline_path(Path(args.baselines_dir or config.baselines_dir), args.tier)
    old = _old_baseline(path, console)
    write_model(path, new)
    runs = min(len(metrics.get("e2e_ms", ())) for metrics in new.samples.values())
    console.say(f"{path}: {len(new.samples)} scenario(s), {runs}+ samples each; review the diff and commit it")
    console.say(diff_text([diff_baselines(str(path), old, new)]))
    for noisy in noisy_metrics(new, config):
        console.fail(noisy_warning(path, noisy, config.gate.baseline_cv_warning))
    if len(loaded) == 1:
        console.fail(one_session_note(path, args.tier))
    return Outcome()


def one_session_note(path: Path, tier: str) -> str:
    """A baseline of one session cannot show how far sessions move: the gate then assumes a spread."""
    return (
        f"note: {path} is one measuring session; the gate allows for a session offset it cannot see "
        f"(docs/statistics.md, Sessions). Three sessions make the gate surer: nox -s baseline -- --tier {tier}"
    )


def noisy_warning(path: Path, noisy: NoisyMetric, limit: float) -> str:
    """One line: which metric is too noisy, and the runs a baseline that noisy needs."""
    return (
        f"warning: {path}: {noisy.scenario} {noisy.metric} is noisy (CV {noisy.cv:.0%}, above "
        f"gate.baseline_cv_warning {limit:.0%}): telling a {noisy.threshold:.0%} change from noise needs about "
        f"{noisy.runs_needed} runs in the baseline and in each run (it has {noisy.runs}); "
        "re-measure on a quiet machine or with more runs (docs/baselines.md)"
    )


def _old_baseline(path: Path, console: Console) -> Baseline | None:
    """The baseline being replaced, for the diff; a corrupt one is replaced (what update is for), a newer one kept."""
    if not path.is_file():
        return None
    try:
        return load_baseline(path)
    except NewerSchemaError:
        raise  # written by a newer perfgate: an older one must not overwrite it
    except BadFileError as exc:
        console.fail(f"warning: the baseline being replaced is not readable, so no diff is shown: {exc}")
        return None


def execute_diff(args: argparse.Namespace, config: PerfgateConfig, console: Console) -> Outcome:
    from perfgate.render.baseline_diff import diff_markdown, diff_text  # noqa: PLC0415

    diffs = changed_baselines(Path(args.baselines_dir or config.baselines_dir), args.base_ref)
    if not diffs:
        console.say(f"no baseline changed since {args.base_ref}")
    else:
        console.say(diff_markdown(diffs) if args.format == "md" else diff_text(diffs), end="")
    return Outcome()

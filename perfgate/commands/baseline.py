"""``perfgate baseline update | diff``: move a tier's baseline, and show a reviewer what moved.

update: collect results files → build the baseline (refusing bad input) →
write ``baselines/<tier>.json`` → print old vs new.
diff: every baseline changed since a git ref, old vs new.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from perfgate.commands import Console, Outcome
from perfgate.config import PerfgateConfig
from perfgate.contracts.baseline import baseline_path, load_baseline, parse_baseline
from perfgate.contracts.collect import collect_results
from perfgate.decide.baseline import BaselineDiff, build_baseline, diff_baselines
from perfgate.files import write_model
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
        new_text = current[name].read_text(encoding="utf-8") if name in current else None
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
    old = load_baseline(path) if path.is_file() else None
    write_model(path, new)
    runs = min(len(metrics.get("e2e_ms", ())) for metrics in new.samples.values())
    console.say(f"{path}: {len(new.samples)} scenario(s), {runs}+ samples each; review the diff and commit it")
    console.say(diff_text([diff_baselines(str(path), old, new)]))
    return Outcome()


def execute_diff(args: argparse.Namespace, config: PerfgateConfig, console: Console) -> Outcome:
    from perfgate.render.baseline_diff import diff_markdown, diff_text  # noqa: PLC0415

    diffs = changed_baselines(Path(args.baselines_dir or config.baselines_dir), args.base_ref)
    if not diffs:
        console.say(f"no baseline changed since {args.base_ref}")
    else:
        console.say(diff_markdown(diffs) if args.format == "md" else diff_text(diffs), end="")
    return Outcome()

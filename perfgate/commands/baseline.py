"""perfgate baseline update | diff."""

from __future__ import annotations

from pathlib import Path

from perfgate.contracts.baseline import load_baseline, parse_baseline
from perfgate.decide.baseline import BaselineDiff, diff_baselines
from perfgate.gitutil import git_ls, git_show


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

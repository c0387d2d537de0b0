"""Fail when a perfgate module imports from a higher layer (imports only point down the stages).

Run by the lint session (`nox -s lint`). The layers, lowest first, are the
package's stages; docs/architecture.md draws the same picture. A module may
import from its own package or from a strictly lower layer. Function-level
(lazy) and TYPE_CHECKING imports count too: a lazy import is still a
dependency.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

# Longest matching prefix wins.
LAYERS: dict[str, int] = {
    "perfgate": 0,  # perfgate/__init__.py: the version only
    "perfgate.errors": 0,
    "perfgate.metrics": 0,
    "perfgate.files": 1,
    "perfgate.gitutil": 1,
    "perfgate.provenance": 1,
    "perfgate.markdown_escape": 0,
    "perfgate.interrupts": 0,
    "perfgate.outputs": 1,
    "perfgate.config": 2,
    "perfgate.configdoc": 3,
    "perfgate.contracts": 3,
    "perfgate.decide": 4,
    "perfgate.history": 4,  # the history store's series and drift detection (pure but for the store's files)
    "perfgate.childproc": 5,
    "perfgate.runtimes": 5,
    "perfgate.publish.github": 5,  # an I/O client like the runtimes' (triage's GitHub sink uses it)
    "perfgate.publish.limits": 5,  # GitHub's length limits, for the client's callers (triage's sink too)
    "perfgate.publish.backoff": 4,  # the GitHub client's waits (Retry-After, rate limits): pure, below the client
    "perfgate.sim": 6,
    "perfgate.llamacpp": 6,
    "perfgate.runtimes.registry": 7,  # opens any runtime, starting a managed sim or llama.cpp server
    "perfgate.measure": 8,
    "perfgate.triage": 9,
    "perfgate.doctor": 9,  # the runner's fitness checks: host facts and the runtime's answers
    "perfgate.render": 10,
    "perfgate.publish": 11,
    "perfgate.commands": 12,
    "perfgate.cli": 14,
    "perfgate.parser": 13,  # the CLI's argparse parser (split from cli.py; only cli imports it)
    "perfgate.flags": 12,  # the command line's value checks (argparse types)
    "perfgate.stdio": 1,  # stdout/stderr for the CLI: a reader that leaves early is not an error
    "perfgate.__main__": 15,
}


def unit_of(module: str) -> str:
    """The longest LAYERS key that is ``module`` or a package containing it."""
    if module == "perfgate" or (module.startswith("perfgate.__") and module != "perfgate.__main__"):
        return "perfgate"  # the package itself: `from perfgate import __version__`
    parts = module.split(".")
    for end in range(len(parts), 1, -1):
        candidate = ".".join(parts[:end])
        if candidate in LAYERS:
            return candidate
    raise KeyError(module)


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "perfgate":
                found += [(node.lineno, f"perfgate.{alias.name}") for alias in node.names]
            elif node.module.startswith("perfgate."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("perfgate")]
    return found


def violations(root: Path) -> list[str]:
    problems: list[str] = []
    for path in sorted((root / "perfgate").rglob("*.py")):
        source = module_name(path, root)
        source_unit = unit_of(source)
        for line, target in imported_modules(ast.parse(path.read_text(encoding="utf-8"))):
            try:
                target_unit = unit_of(target)
            except KeyError:
                problems.append(f"{path}:{line}: {target} is in no layer (add it to tools/check_layers.py)")
                continue
            same_unit = target_unit == source_unit
            if same_unit or LAYERS[target_unit] < LAYERS[source_unit]:
                continue
            problems.append(
                f"{path}:{line}: {source} (layer {LAYERS[source_unit]}, {source_unit}) imports {target} "
                f"(layer {LAYERS[target_unit]}, {target_unit}): imports must point down the stages"
            )
    return problems


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    found = violations(root)
    for line in found:
        print(line)
    print(f"layers: {len(found)} upward import(s)" if found else "layers: every import points down")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

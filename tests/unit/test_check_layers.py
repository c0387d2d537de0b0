"""tools/check_layers.py: the lint check that keeps imports pointing down the stages."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def load_checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_layers", ROOT / "tools" / "check_layers.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_layers"] = module
    spec.loader.exec_module(module)
    return module


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_the_real_package_imports_only_downwards() -> None:
    assert load_checker().violations(ROOT) == []


def test_a_lower_layer_importing_a_higher_one_is_reported(tmp_path: Path) -> None:
    checker = load_checker()
    write(tmp_path, "perfgate/__init__.py", "")
    write(tmp_path, "perfgate/decide/__init__.py", "")
    write(tmp_path, "perfgate/render/__init__.py", "")
    write(tmp_path, "perfgate/render/text.py", "X = 1\n")
    # a lazy import inside a function counts too
    write(tmp_path, "perfgate/decide/gate.py", "def f():\n    from perfgate.render.text import X\n    return X\n")
    found = checker.violations(tmp_path)
    assert len(found) == 1
    assert "perfgate.decide.gate" in found[0]
    assert "imports perfgate.render.text" in found[0]


def test_downward_and_same_package_imports_pass(tmp_path: Path) -> None:
    checker = load_checker()
    write(tmp_path, "perfgate/__init__.py", "")
    write(tmp_path, "perfgate/errors.py", "class E(Exception): ...\n")
    write(tmp_path, "perfgate/render/__init__.py", "")
    write(tmp_path, "perfgate/render/cells.py", "from perfgate.errors import E\n")
    write(tmp_path, "perfgate/render/text.py", "from perfgate.render.cells import E\n")
    assert checker.violations(tmp_path) == []


def test_a_module_in_no_layer_is_reported(tmp_path: Path) -> None:
    checker = load_checker()
    write(tmp_path, "perfgate/__init__.py", "")
    write(tmp_path, "perfgate/errors.py", "from perfgate.newthing import x\n")
    found = checker.violations(tmp_path)
    assert len(found) == 1
    assert "in no layer" in found[0]

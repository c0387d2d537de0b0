"""tools/maccheck.py (`nox -s maccheck`): its non-Mac branch, and the Ollama fields it prints."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import httpx

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("maccheck", ROOT / "tools" / "maccheck.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_off_a_mac_it_says_so_and_exits_0(capsys):
    assert _load().main([], platform_name="linux") == 0
    out = capsys.readouterr().out
    assert out.startswith("maccheck: this is linux, not macOS")


def test_ollama_fields_are_printed_per_endpoint_and_an_unreachable_one_is_a_line():
    bodies = {
        "http://h:1/api/version": {"version": "0.12.3"},
        "http://h:1/api/ps": {"models": [{"name": "m", "size": 5, "size_vram": 5}]},
    }

    def get(url: str) -> object:
        if url not in bodies:
            raise httpx.ConnectError("refused")
        return bodies[url]

    lines = list(_load().ollama_lines("http://h:1/", get))
    assert lines[0].startswith("ollama/api/version")
    assert '"version": "0.12.3"' in lines[0]
    assert lines[1].startswith("ollama/api/tags")
    assert "unreachable: refused" in lines[1]
    assert '"size_vram": 5' in lines[2]

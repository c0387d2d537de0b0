"""tools/perfgate-rusage's pure parts: what it accepts, which processes it reads, and that it stands alone.

The script runs as root through a sudoers rule that allows it with any
arguments, so what it refuses is its security boundary.
"""

from __future__ import annotations

import ast
import ctypes
import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from perfgate.measure.footprint import RusageInfoV4

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "perfgate-rusage"


def _load() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("perfgate_rusage", str(SCRIPT))
    spec = importlib.util.spec_from_loader("perfgate_rusage", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


rusage = _load()


def test_two_positive_numbers_are_taken() -> None:
    assert rusage.parse_args(["812", "50"]) == (812, 50)
    assert rusage.parse_args(["4194304", "10"]) == (4194304, 10)
    assert rusage.parse_args(["1", "1000"]) == (1, 1000)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["812"],
        ["812", "50", "extra"],
        ["/etc/passwd", "50"],
        ["812", "/tmp/x"],
        ["-5", "50"],
        ["0", "50"],
        ["+812", "50"],
        [" 812", "50"],
        ["812\n", "50"],
        ["0812", "50"],
        ["0x10", "50"],
        ["٨١٢", "50"],  # Arabic-Indic digits: int() takes them, the script must not
        ["4194305", "50"],
        ["812", "9"],
        ["812", "1001"],
        ["812", "50.5"],
        ["--help", "50"],
        ["812", "$(id)"],
    ],
)
def test_anything_else_is_refused(argv: list[str]) -> None:
    with pytest.raises(rusage.Refused, match="usage: perfgate-rusage PID INTERVAL_MS"):
        rusage.parse_args(argv)


def test_only_runtime_names_are_read() -> None:
    assert rusage.allowed("ollama")
    assert rusage.allowed("Ollama")  # Ollama.app's own process on macOS
    assert rusage.allowed("llama-server")
    assert rusage.allowed("ollama_llama_se")  # Linux cuts comm to 15 characters
    assert rusage.allowed("ollama_llama_ser")  # macOS's p_comm to 16
    assert not rusage.allowed("bash")
    assert not rusage.allowed("ollama2")
    assert not rusage.allowed("olla")  # a prefix is a cut name only at the cut's length
    assert not rusage.allowed("launchd")


def test_the_macos_indexes_are_rusage_info_v4s_offsets() -> None:
    # The script cannot import perfgate's struct (it stands alone); the two must agree.
    mac = rusage.MacProcs
    assert 37 * 8 == ctypes.sizeof(RusageInfoV4) == 296
    assert RusageInfoV4.ri_wired_size.offset == mac.WIRED * 8
    assert RusageInfoV4.ri_resident_size.offset == mac.RESIDENT * 8
    assert RusageInfoV4.ri_phys_footprint.offset == mac.FOOTPRINT * 8
    assert RusageInfoV4.ri_proc_start_abstime.offset == mac.START * 8
    assert mac.RUSAGE_INFO_V4 == 4


def test_it_imports_the_standard_library_only() -> None:
    tree = ast.parse(SCRIPT.read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "perfgate" not in imported
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


def test_it_runs_isolated_and_is_executable() -> None:
    first = SCRIPT.read_text(encoding="utf-8").splitlines()[0]
    # -I: no PYTHON* variables, no user site-packages, not the script's directory on sys.path.
    assert first == "#!/usr/bin/python3 -I"
    assert SCRIPT.stat().st_mode & 0o111


def test_the_tree_is_bounded_and_root_first() -> None:
    class Chain:
        """Every process has one child: a tree deeper than any runtime's."""

        def children(self, pid: int) -> list[int]:
            return [pid + 1]

    members = rusage.tree(Chain(), 100)
    assert members[0] == 100
    assert len(members) == rusage.MAX_MEMBERS


class FakeLibproc:
    """libproc as the script calls it: ctypes buffers in, counts out, errno set on failure (EPERM, ESRCH)."""

    def __init__(self, figures: dict[int, tuple[int, int, int, int]], children: dict[int, list[int]]) -> None:
        self.figures = figures  # pid -> (wired, resident, footprint, start)
        self.kids = children
        self.denied: set[int] = set()

    def proc_pid_rusage(self, pid: int, flavor: int, info: ctypes.Array[ctypes.c_uint64]) -> int:
        assert flavor == 4
        assert ctypes.sizeof(info) == ctypes.sizeof(RusageInfoV4)
        if pid in self.denied or pid not in self.figures:
            ctypes.set_errno(1 if pid in self.denied else 3)
            return -1
        view = RusageInfoV4.from_buffer(info)
        wired, resident, footprint, start = self.figures[pid]
        view.ri_wired_size, view.ri_resident_size, view.ri_phys_footprint = wired, resident, footprint
        view.ri_proc_start_abstime = start
        return 0

    def proc_name(self, pid: int, buffer: ctypes.Array[ctypes.c_char], size: int) -> int:
        name = b"ollama" if pid in self.figures else b""
        buffer.value = name
        return len(name)

    def proc_listchildpids(self, pid: int, buffer: ctypes.Array[ctypes.c_int], size: int) -> int:
        found = self.kids.get(pid, [])
        for index, child in enumerate(found):
            buffer[index] = child
        return len(found)  # a count of pids, as libproc's proc_listchildpids returns


def test_on_macos_one_rusage_call_gives_footprint_resident_and_wired() -> None:
    lib = FakeLibproc({812: (0, 90 * 2**20, 40 * 2**20, 7), 813: (2**20, 4 * 2**30, 300 * 2**20, 8)}, {812: [813]})
    mac = rusage.MacProcs(lib)
    assert mac.name(812) == "ollama"
    assert rusage.tree(mac, 812) == [812, 813]
    assert mac.memory(813) == {
        "rss": 4 * 2**30,  # ri_resident_size: what psutil's pti_resident_size shows
        "footprint": 300 * 2**20,
        "resident": 4 * 2**30,
        "wired": 2**20,
        "hwm": None,
    }
    assert mac.start(812) == 7
    assert mac.memory(999) is None  # ESRCH: gone
    lib.denied.add(812)
    with pytest.raises(PermissionError, match="run this as root"):
        mac.memory(812)

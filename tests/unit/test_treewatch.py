"""When a watched process tree is listed, and what a tick reads, on a scripted tree."""

from __future__ import annotations

from dataclasses import dataclass, field

import psutil
import pytest

from perfgate.measure.proctree import TreeLister
from perfgate.measure.treewatch import RELIST_BOUND_S, TreeWatch, max_gap_ticks

ROOT = 100


@dataclass
class Machine:
    """A scripted process table: who is whose child, who is a zombie, who has gone."""

    children: dict[int, list[int]] = field(default_factory=lambda: {ROOT: [101]})
    rss: dict[int, int] = field(default_factory=lambda: {ROOT: 10, 101: 20})
    zombies: set[int] = field(default_factory=set)
    listings: int = 0

    @property
    def pid(self) -> int:
        return ROOT

    def is_running(self) -> bool:
        return ROOT in self.rss

    def status(self) -> str:
        return psutil.STATUS_ZOMBIE if ROOT in self.zombies else psutil.STATUS_SLEEPING

    def list_children(self, pid: int) -> list[int]:
        if pid == ROOT:
            self.listings += 1
        if pid not in self.rss:
            raise psutil.NoSuchProcess(pid)
        return list(self.children.get(pid, []))

    def __call__(self, pid: int) -> int | None:
        if pid not in self.rss:
            raise psutil.NoSuchProcess(pid)
        return None if pid in self.zombies else self.rss[pid]

    def forget(self, pid: int) -> None:
        pass

    def spawn(self, parent: int, pid: int, rss: int) -> None:
        self.children.setdefault(parent, []).append(pid)
        self.rss[pid] = rss

    def end(self, pid: int, *, reaped: bool = True) -> None:
        """``pid`` exits; reaped, it is gone, otherwise a zombie still listed under its parent."""
        if not reaped:
            self.zombies.add(pid)
            return
        del self.rss[pid]
        self.zombies.discard(pid)
        for kids in self.children.values():
            if pid in kids:
                kids.remove(pid)


def watch(machine: Machine, max_gap: int = 8) -> TreeWatch:
    return TreeWatch(machine, lister=TreeLister(machine.list_children, "fake"), rss=machine, max_gap=max_gap)


def tick(tree: TreeWatch, machine: Machine) -> dict[int, int]:
    return dict(tree.read(machine))


def listing_ticks(tree: TreeWatch, machine: Machine, ticks: int) -> list[int]:
    listed = []
    for number in range(ticks):
        before = machine.listings
        tick(tree, machine)
        if machine.listings > before:
            listed.append(number)
    return listed


def test_an_unchanging_tree_is_listed_ever_more_rarely_up_to_the_bound() -> None:
    machine = Machine()
    tree = watch(machine, max_gap=8)
    # Gaps 1, 2, 4, 8, 8, ...: the first listing found a "change" (nothing known before).
    assert listing_ticks(tree, machine, 40) == [0, 1, 3, 7, 15, 23, 31, 39]
    assert tree.listings == 8


def test_every_tick_reads_every_member_even_between_listings() -> None:
    machine = Machine()
    tree = watch(machine)
    for _ in range(20):
        assert tick(tree, machine) == {ROOT: 10, 101: 20}
    machine.rss[101] = 55  # memory changes are seen at once; only membership waits for a listing
    assert tick(tree, machine) == {ROOT: 10, 101: 55}


def test_a_new_child_of_a_quiet_tree_is_counted_within_max_gap_ticks() -> None:
    machine = Machine()
    tree = watch(machine, max_gap=8)
    listing_ticks(tree, machine, 40)  # long quiet: the gap is at its cap
    machine.spawn(101, 102, 30)
    waited = 0
    while 102 not in tick(tree, machine):
        waited += 1
    assert waited < 8


def test_a_change_resets_the_gap_so_a_launcher_child_is_seen_at_once() -> None:
    machine = Machine(children={ROOT: []}, rss={ROOT: 10})
    tree = watch(machine, max_gap=8)
    tick(tree, machine)
    machine.spawn(ROOT, 101, 20)  # the launcher starts the app
    assert 101 in tick(tree, machine)  # tick 1 lists (gap 1 after the first listing)
    machine.spawn(101, 102, 96)  # the app starts a helper right after
    assert 102 in tick(tree, machine)  # the change reset the gap to one tick


def test_a_member_that_ended_is_dropped_and_the_tree_listed_in_the_same_tick() -> None:
    machine = Machine()
    machine.spawn(101, 102, 30)
    tree = watch(machine)
    listing_ticks(tree, machine, 20)
    machine.end(101)  # the runner ends; its own child now belongs to pid 1
    machine.children[ROOT] = []
    before = machine.listings
    assert tick(tree, machine) == {ROOT: 10}
    assert machine.listings == before + 1


def test_a_zombie_is_skipped_without_listing_on_every_tick() -> None:
    machine = Machine()
    tree = watch(machine, max_gap=8)
    listing_ticks(tree, machine, 20)
    machine.end(101, reaped=False)  # exited, parent has not reaped it: still listed
    before = machine.listings
    readings = [tick(tree, machine) for _ in range(6)]
    assert readings == [{ROOT: 10}] * 6
    assert machine.listings - before <= 2  # once on finding it; then on the ordinary schedule


def test_the_root_ending_raises_no_such_process() -> None:
    machine = Machine()
    tree = watch(machine)
    listing_ticks(tree, machine, 10)
    machine.end(ROOT)
    with pytest.raises(psutil.NoSuchProcess):
        tick(tree, machine)


def test_a_zombie_root_has_exited() -> None:
    machine = Machine()
    tree = watch(machine)
    listing_ticks(tree, machine, 10)
    machine.end(ROOT, reaped=False)
    with pytest.raises(psutil.NoSuchProcess):
        tick(tree, machine)


def test_an_unreadable_member_is_an_error_not_a_smaller_sum() -> None:
    machine = Machine()
    tree = watch(machine)

    def denied(pid: int) -> int | None:
        if pid == 101:
            raise psutil.AccessDenied(pid)
        return machine(pid)

    with pytest.raises(psutil.AccessDenied):
        tree.read(denied)


@pytest.mark.parametrize(("interval_s", "ticks"), [(0.05, 10), (0.01, 50), (0.1, 5), (0.3, 1), (10.0, 1)])
def test_max_gap_keeps_a_new_member_within_the_time_bound(interval_s: float, ticks: int) -> None:
    assert max_gap_ticks(interval_s) == ticks
    assert ticks * interval_s <= max(RELIST_BOUND_S, interval_s) + 1e-9


def test_max_gap_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_gap"):
        watch(Machine(), max_gap=0)

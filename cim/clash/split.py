"""The narrow phase of one check shared by two processes: this one and a forked child.

A check's pairs are independent, and the narrow phase (manifold3d booleans, fcl distances) holds the GIL, so
threads would take turns; a forked child starts with every mesh already read and decoded (shared until
written), tests every other pair, and sends back what it found. Used by the untiled check when asked for
more than one process (``check_city(workers=...)``); the tiled check spreads tiles instead. A child that
dies (a crash in a kernel) costs nothing: its pairs are tested here, as they were before the split.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from cim.isolated import ChildCall, ChildDied, start_in_child

if TYPE_CHECKING:
    from cim.clash.engine import Checker, Finding, Work

log = logging.getLogger(__name__)
SPLIT_FROM = 200  # pairs: below this a fork and the answer's pickling cost about what they save


def test_in_two(checker: Checker, work: list[Work], progress: Callable[[str, int, int], None] | None) -> list[Finding]:
    """The findings of ``work`` (in its order), every other pair tested in a forked child."""
    from cim.clash.engine import Finding

    mine, theirs = work[0::2], work[1::2]
    answer = None
    try:
        with start_in_child(_tested, checker, theirs, path="the clash check's narrow phase") as child:
            found = checker.test_pairs(mine, progress, step=2)
            answer = _answer(child)
    except ChildDied as exc:
        log.warning("%s; its pairs are tested in this process", exc)
    if answer is None:
        found = found + checker.test_pairs(theirs)
    else:
        rows, tested, suppressed = answer
        checker.stats.tested += tested
        checker.stats.suppressed += suppressed
        rules = {i: rule for i, rule, _ in theirs}
        found = found + [(i, Finding(rules[i], *rest)) for i, *rest in rows]
    return [finding for _, finding in sorted(found, key=lambda pair: pair[0])]


def _answer(child: ChildCall) -> tuple[list, int, int]:
    kind, value = child.receive()
    while kind != "done":  # the child reports no progress; a message that is not its answer is skipped
        kind, value = child.receive()
    return value


def _tested(checker: Checker, work: list[Work], progress: Callable[[object], None]) -> tuple[list, int, int]:
    """In the child: what ``work`` found, as (index, mode, a, b, contact, point) rows (the parent has the rules),
    and the pairs tested and suppressed."""
    tested, suppressed = checker.stats.tested, checker.stats.suppressed
    found = checker.test_pairs(work)
    rows = [(i, f.mode, f.a, f.b, f.contact, f.point) for i, f in found]
    return rows, checker.stats.tested - tested, checker.stats.suppressed - suppressed

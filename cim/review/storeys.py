"""Storey names in the order a planner reads them: B2, B1, L1, L2, ..., L10 (not L1, L10, L2).

Storeys are keyed by name in the report (GFA per storey), and plain string order puts L10 before L2. The key
compares runs of digits as numbers, ignores case, and puts basements (B1, B2, "Basement 1", UG1) first, deepest
first, so the list reads from the bottom of the building up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar

V = TypeVar("V")
_BASEMENT = re.compile(r"^\s*(?:b|basement|ug|sb)\s*-?\s*(\d+)\b", re.IGNORECASE)
_RUNS = re.compile(r"(\d+)")


def natural_key(name: str | None) -> tuple:
    """Sort key for one storey name: basements first (deepest first), then natural order of the name."""
    text = "" if name is None else str(name)
    parts = tuple((0, int(t), "") if t.isdigit() else (1, 0, t) for t in _RUNS.split(text.casefold()) if t)
    basement = _BASEMENT.match(text)
    if basement:
        return (0, -int(basement.group(1)), parts)
    return (1, 0, parts)


def sort_storeys(values: Mapping[str, V]) -> dict[str, V]:
    """A copy of a {storey name: value} mapping in natural storey order."""
    return {k: values[k] for k in sorted(values, key=natural_key)}

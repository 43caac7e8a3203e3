"""One computed quantity, and the unit its IFC name implies."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Q:
    """A computed base quantity; ``reliable`` is False when the mesh cannot support it (see ``note``)."""

    qset: str
    name: str
    value: float | None
    reliable: bool = True
    note: str | None = None

    @property
    def unit(self) -> str:
        return unit_for(self.name)


def unit_for(name: str) -> str:
    """SI unit of an IFC base quantity from its name (declared quantity sets are stored in SI units)."""
    if name.endswith("Area"):
        return "m2"
    if name.endswith("Volume"):
        return "m3"
    if name.endswith("Count") or name.startswith("Count"):
        return "count"
    if name.endswith("Weight") or name.endswith("Mass"):
        return "kg"
    return "m"


def volume_q(qset: str, name: str, value: float, closed: bool, extra_note: str | None = None) -> Q:
    """A volume-type quantity: only reliable on a closed (watertight) mesh."""
    if closed and extra_note is None:
        return Q(qset, name, value)
    note = "; ".join(n for n in ("mesh is not closed: volume is not reliable" if not closed else None, extra_note) if n)
    return Q(qset, name, value, False, note)

"""Declared intent: pairs that overlap because the model says they should, never reported as clashes.

- a door or window in its opening: the host and the filling element (IfcRelVoidsElement + IfcRelFillsElement),
  and the opening itself against anything it voids or is filled by;
- parts of one aggregate or nest, and a whole against its parts;
- elements whose ports are connected (IfcRelConnectsPorts);
- declared interferences (IfcRelInterferesElements);
- a sleeve (an element typed, named or object-typed SLEEVE) against its host and against what passes it,
  and a pass-through element against the sleeve's host where the contact lies inside the sleeve.

IfcRelConnectsElements alone (e.g. wall joins) does not suppress: a wall overshooting its corner is a clash.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cim.clash.selectors import is_a
from cim.clash.source import ElementSet, element_key

PAIR_RELS = ("hosts", "fills", "voids", "connects_ports", "interferes")


def _is_sleeve(row: dict) -> bool:
    text = " ".join(str(row.get(k) or "") for k in ("predefined_type", "object_type", "name")).upper()
    return "SLEEVE" in text


@dataclass
class Intent:
    pairs: set[frozenset[str]] = field(default_factory=set)
    parent: dict[str, str] = field(default_factory=dict)  # element key -> aggregate/nest parent key
    sleeves: dict[str, set[str]] = field(default_factory=dict)  # sleeve key -> host keys
    sleeve_bounds: dict[str, np.ndarray] = field(default_factory=dict)
    flow: set[str] = field(default_factory=set)  # keys of pipes, ducts, cables... (what passes a sleeve)

    def declared(self, a: str, b: str) -> bool:
        """True when the model declares that ``a`` and ``b`` may overlap (without looking at geometry)."""
        if frozenset((a, b)) in self.pairs:
            return True
        pa, pb = self.parent.get(a), self.parent.get(b)
        if (pa is not None and pa == pb) or pa == b or pb == a:
            return True
        for sleeve, other in ((a, b), (b, a)):
            if sleeve in self.sleeves and (other in self.sleeves[sleeve] or other in self.flow):
                return True
        return False

    def through_sleeve(self, a: str, b: str, point_world: np.ndarray, tolerance: float = 0.05) -> bool:
        """A contact between a pass-through element and a sleeve's host, inside that sleeve."""
        for sleeve, hosts in self.sleeves.items():
            if a in hosts or b in hosts:
                box = self.sleeve_bounds[sleeve]
                if np.all(point_world >= box[:3] - tolerance) and np.all(point_world <= box[3:] + tolerance):
                    return True
        return False


def build_intent(elements: ElementSet) -> Intent:
    """Read the declared relations of every model in the set into fast lookups."""
    intent = Intent()
    rows_by_key = {r["key"]: r for r in elements.rows}
    for rel in elements.relations:
        a = element_key(rel["model_id"], rel["relating_global_id"])
        b = element_key(rel["model_id"], rel["related_global_id"])
        if rel["rel_type"] in PAIR_RELS:
            intent.pairs.add(frozenset((a, b)))
        elif rel["rel_type"] in ("aggregates", "nests"):
            intent.parent[b] = a
        if rel["rel_type"] in ("hosts", "connects") and b in rows_by_key and _is_sleeve(rows_by_key[b]):
            intent.sleeves.setdefault(b, set()).add(a)
        if rel["rel_type"] == "connects" and a in rows_by_key and _is_sleeve(rows_by_key[a]):
            intent.sleeves.setdefault(a, set()).add(b)
    for row in elements.rows:
        if is_a(row["ifc_class"], ("IfcDistributionFlowElement",)):
            intent.flow.add(row["key"])
        if _is_sleeve(row):
            intent.sleeves.setdefault(row["key"], set())
            intent.sleeve_bounds[row["key"]] = np.array([row[c] for c in ("xmin", "ymin", "zmin", "xmax", "ymax",
                                                                          "zmax")], dtype=np.float64)
    return intent

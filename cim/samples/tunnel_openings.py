"""Escape and hoisting openings through the roof slab.

Pattern: an IfcOpeningElement (OPENING) voids the roof slab segment and is filled by
- an IfcDoor (TRAPDOOR) for an escape opening (逃生口), or
- an IfcBuildingElementProxy (USERDEFINED, ObjectType "HoistingOpeningCover") for a hoisting opening (吊装口).
Both fillers carry Pset_CimTunnelOpening {OpeningKind, Chainage, ClearLength, ClearWidth} and sit in the
fire compartment below them with an IfcLinearPlacement.
"""

from __future__ import annotations

import ifcopenshell.api.feature

from cim.samples import tunnel_spec as spec
from cim.samples.tunnel_handover import Handover, Product
from cim.samples.tunnel_ifc import Entity, Model
from cim.samples.tunnel_structure import Spatial

_HATCH = Product("Binhai Civil Works (demo)", "Escape hatch 1000x1000", "BCW-EH10", 2, 30, 12)


def build_openings(m: Model, s: Spatial, h: Handover, roof_slabs: list[Entity]) -> list[Entity]:
    """Openings of every compartment; returns the fillers (doors and proxies)."""
    fillers = []
    for comp in spec.COMPARTMENTS:
        y = spec.WALKWAY_Y[comp.key]
        for n, x in enumerate(spec.ESCAPE_CHAINAGES, start=1):
            fillers.append(_opening(m, s, roof_slabs, comp.key, "escape", n, x, y, spec.ESCAPE_SIZE))
        for n, x in enumerate(spec.HOISTING_CHAINAGES, start=1):
            fillers.append(_opening(m, s, roof_slabs, comp.key, "hoisting", n, x, y, spec.HOISTING_SIZE))
    doors = [f for f in fillers if f.is_a("IfcDoor")]
    h.occurrences(doors, _HATCH, spec.TUNNEL_OWNER, spec.TUNNEL_OPERATOR, "2024-12-01", "HATCH")
    return fillers


def _opening(
    m: Model,
    s: Spatial,
    roof_slabs: list[Entity],
    key: str,
    kind: str,
    n: int,
    x: float,
    y: float,
    size: tuple[float, float],
) -> Entity:
    length, width = size
    label = spec.chainage_label(x)
    slab = roof_slabs[int(x // spec.SEGMENT)]
    seg_x0 = int(x // spec.SEGMENT) * spec.SEGMENT
    opening = m.product("IfcOpeningElement", f"{key} {kind} opening {label}", "OPENING")
    # Slab placement is at (segment start, 0, INNER_TOP_Z); cut a little beyond both faces.
    opening.ObjectPlacement = m.local_placement(x - seg_x0, y, -0.05, slab.ObjectPlacement)
    opening.Representation = m.shape([m.box(length, width, spec.WALL + 0.1)])
    ifcopenshell.api.feature.add_feature(m.f, feature=opening, element=slab)
    if kind == "escape":
        filler = m.product("IfcDoor", f"{key} escape hatch {label}", "TRAPDOOR", Tag=f"{key}-EH-{n:02d}")
        filler.OverallHeight, filler.OverallWidth = width, length
    else:
        filler = m.product(
            "IfcBuildingElementProxy",
            f"{key} hoisting opening cover {label}",
            "USERDEFINED",
            Tag=f"{key}-HO-{n:02d}",
            ObjectType="HoistingOpeningCover",
        )
    filler.ObjectPlacement = m.linear_placement(x, y, spec.INNER_TOP_Z)
    filler.Representation = m.shape([m.box(length, width, spec.WALL)])
    ifcopenshell.api.feature.add_filling(m.f, opening=opening, element=filler)
    m.pset(
        [filler],
        "Pset_CimTunnelOpening",
        {
            "OpeningKind": kind,
            "Chainage": float(x),
            "ClearLength": m.length(length),
            "ClearWidth": m.length(width),
            "CompartmentKey": key,
        },
    )
    s.contain(s.fire_compartment(key, x), filler)
    return filler

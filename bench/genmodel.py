"""Generated georeferenced IFC4 models of N elements for benchmarks: walls, columns, slabs, beams, pipes.

Each element has its own extruded body (no shared representations, as in real exports), sits in a storey,
has a material and a small property set. Deterministic for a given size.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import ifcopenshell
import ifcopenshell.api
import ifcopenshell.guid

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.models import new_model  # noqa: E402

KINDS = ("IfcWall", "IfcColumn", "IfcSlab", "IfcBeam", "IfcPipeSegment")
PER_STOREY = 2_000


def _axis(f, origin=(0.0, 0.0, 0.0), z=(0.0, 0.0, 1.0), x=(1.0, 0.0, 0.0)):
    return f.createIfcAxis2Placement3D(f.createIfcCartesianPoint(origin), f.createIfcDirection(z),
                                       f.createIfcDirection(x))


def _body(f, ctx, kind: str, i: int):
    jitter = (i % 7) * 0.01
    if kind == "IfcPipeSegment":
        profile = f.createIfcCircleProfileDef("AREA", None, None, 0.05 + jitter)
        solid = f.createIfcExtrudedAreaSolid(profile, _axis(f, z=(1.0, 0.0, 0.0), x=(0.0, 1.0, 0.0)),
                                             f.createIfcDirection((0.0, 0.0, 1.0)), 3.0)
    else:
        dims = {"IfcWall": (4.0, 0.2, 3.0), "IfcColumn": (0.4, 0.4, 3.0), "IfcSlab": (4.0, 4.0, 0.2),
                "IfcBeam": (4.0, 0.3, 0.5)}[kind]
        profile = f.createIfcRectangleProfileDef("AREA", None, _position2d(f, dims), dims[0] + jitter, dims[1])
        solid = f.createIfcExtrudedAreaSolid(profile, _axis(f), f.createIfcDirection((0.0, 0.0, 1.0)), dims[2])
    rep = f.createIfcShapeRepresentation(ctx, "Body", "SweptSolid", [solid])
    return f.createIfcProductDefinitionShape(None, None, [rep])


def _position2d(f, dims):
    return f.createIfcAxis2Placement2D(f.createIfcCartesianPoint((dims[0] / 2, dims[1] / 2)))


def generate(path: str | Path, n_elements: int) -> Path:
    f, ctx = new_model()
    storey_placement = ctx["storey"].ObjectPlacement
    materials = {k: ifcopenshell.api.run("material.add_material", f, name=f"{k[3:]} material") for k in KINDS}
    storeys = [ctx["storey"]]
    by_storey: dict[int, list] = {0: []}
    by_kind: dict[str, list] = {k: [] for k in KINDS}
    side = math.ceil(math.sqrt(PER_STOREY / len(KINDS)))
    for i in range(n_elements):
        level = i // PER_STOREY
        if level >= len(storeys):
            storey = ifcopenshell.api.run("root.create_entity", f, ifc_class="IfcBuildingStorey", name=f"Level {level}")
            ifcopenshell.api.run("aggregate.assign_object", f, relating_object=ctx["building"], products=[storey])
            storeys.append(storey)
            by_storey[level] = []
        kind = KINDS[i % len(KINDS)]
        cell = (i % PER_STOREY) // len(KINDS)
        x, y, z = (cell % side) * 5.0, (cell // side) * 5.0, level * 3.5
        offset = {"IfcWall": (0, 0, 0), "IfcColumn": (4.4, 0, 0), "IfcSlab": (0, 0.5, -0.2), "IfcBeam": (0, 4.5, 2.5),
                  "IfcPipeSegment": (0.5, 2.5, 2.0)}[kind]
        placement = f.createIfcLocalPlacement(storey_placement, _axis(f, (x + offset[0], y + offset[1],
                                                                         z + offset[2])))
        el = f.create_entity(kind, GlobalId=ifcopenshell.guid.compress(f"{i:032x}"), Name=f"{kind[3:]} {i}",
                             ObjectPlacement=placement, Representation=_body(f, ctx["body"], kind, i))
        by_storey[level].append(el)
        by_kind[kind].append(el)
    for level, elements in by_storey.items():
        ifcopenshell.api.run("spatial.assign_container", f, relating_structure=storeys[level], products=elements)
    for kind, elements in by_kind.items():
        if elements:
            ifcopenshell.api.run("material.assign_material", f, products=elements, material=materials[kind])
    f.write(str(path))
    return Path(path)


if __name__ == "__main__":
    out = generate(sys.argv[1], int(sys.argv[2]))
    print(out)

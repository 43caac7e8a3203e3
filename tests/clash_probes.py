"""The clash probe model: one small georeferenced IFC holding every probe, 10 m apart, at any local offset."""

from __future__ import annotations

import uuid
from pathlib import Path

import ifcopenshell.guid

from tests.models import CITY_N, add_box, add_door_in_opening, add_pipe, new_model, write

PROBE_RULES = """
[[rules]]
name = "hard"
mode = "hard"
tolerance_m = 0.01
a = { classes = ["IfcElement"], exclude_classes = ["IfcOpeningElement"] }

[[rules]]
name = "gas"
mode = "clearance"
distance_m = 0.5
exclude_same_system = true
a = { classes = ["IfcPipeSegment"], systems = ["Gas*"] }
b = { classes = ["IfcElement"], exclude_classes = ["IfcOpeningElement"] }
"""


def build_probes(path: Path, offset: float = 0.0, *, fixed: bool = False) -> tuple[Path, dict[str, str]]:
    """Write the probe model with every local y shifted by ``-offset`` (the map conversion origin moves the other
    way, so the elements land on the same city position while the file's coordinates are ``offset`` metres from
    its origin). ``fixed`` moves the pipe out of the wall (probe 1)."""
    f, ctx = new_model(northings=CITY_N + offset)
    g: dict[str, str] = {}

    def at(x: float, y: float = 0.0, z: float = 0.0) -> tuple[float, float, float]:
        return (x, y - offset, z)

    g["wall1"] = add_box(f, ctx, "IfcWall", name="wall 1", corner=at(0), size=(4, 0.2, 3)).GlobalId
    pipe_y = -3.0 if fixed else -1.0
    g["pipe1"] = add_pipe(f, ctx, name="pipe through wall", start=at(2, pipe_y, 1.5), direction=(0, 1, 0),
                          length=2.2).GlobalId
    g["slab2"] = add_box(f, ctx, "IfcSlab", name="slab 2", corner=at(10), size=(4, 4, 0.4)).GlobalId
    g["pipe2"] = add_pipe(f, ctx, name="pipe in slab", start=at(10.5, 2, 0.2), length=3).GlobalId
    g["wall3a"] = add_box(f, ctx, "IfcWall", name="duplicate", corner=at(20), size=(4, 0.2, 3)).GlobalId
    g["wall3b"] = add_box(f, ctx, "IfcWall", name="duplicate", corner=at(20), size=(4, 0.2, 3)).GlobalId
    g["wall4a"] = add_box(f, ctx, "IfcWall", name="collinear a", corner=at(30), size=(4, 0.2, 3)).GlobalId
    g["wall4b"] = add_box(f, ctx, "IfcWall", name="collinear b", corner=at(33.95), size=(4, 0.2, 3)).GlobalId
    g["wall5a"] = add_box(f, ctx, "IfcWall", name="corner a", corner=at(40), size=(4, 0.2, 3)).GlobalId
    g["wall5b"] = add_box(f, ctx, "IfcWall", name="corner b", corner=at(43.8, 0.1), size=(0.2, 3.9, 3)).GlobalId
    g["slab6"] = add_box(f, ctx, "IfcSlab", name="slab 6", corner=at(50, 0, -0.3), size=(4, 4, 0.3)).GlobalId
    g["wall6"] = add_box(f, ctx, "IfcWall", name="wall on slab", corner=at(50), size=(4, 0.2, 3)).GlobalId
    wall7 = add_box(f, ctx, "IfcWall", name="wall with door", corner=at(60), size=(4, 0.2, 3))
    g["wall7"] = wall7.GlobalId
    g["door7"] = add_door_in_opening(f, ctx, wall7, corner=at(61)).GlobalId
    g["gas8"] = add_pipe(f, ctx, name="gas pipe", start=at(70, 0, 1), length=4, system="Gas").GlobalId
    g["water8"] = add_pipe(f, ctx, name="water pipe", start=at(70, 0.4, 1), length=4, system="Water").GlobalId
    for key, gid in list(g.items()):  # the same GlobalIds in every version, as an authoring tool keeps them
        g[key] = f.by_guid(gid).GlobalId = ifcopenshell.guid.compress(uuid.uuid5(uuid.NAMESPACE_URL, key).hex)
    return write(f, path), g

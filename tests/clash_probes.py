"""The clash probe model: one small georeferenced IFC holding every probe, 10 m apart, at any local offset."""

from __future__ import annotations

import uuid
from pathlib import Path

import ifcopenshell.api
import ifcopenshell.guid
import numpy as np

from tests.models import CITY_N, add_box, add_door_in_opening, add_element, add_pipe, new_model, write

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
    # open meshes (an end cap exported as an open shell: no top face, sides in 10 mm bands as fine exports have)
    for key, x, reach in (("9", 80, 0.038), ("10", 90, 0.0), ("11", 100, 0.005)):
        slab = add_box(f, ctx, "IfcSlab", name=f"slab {key}", corner=at(x, 0, -0.3), size=(4, 4, 0.3))
        g["slab" + key] = slab.GlobalId
        g["cap" + key] = add_open_box(f, ctx, "IfcPipeFitting", name=f"end cap {key}", corner=at(x + 1, 1, -reach),
                                      size=(0.3, 0.3, 0.2), open_sides=("+z",)).GlobalId
    g["wall12a"] = add_open_box(f, ctx, "IfcWall", name="open wall a", corner=at(110, 1.9), size=(4, 0.2, 3),
                                open_sides=("-x", "+x"), band=3.0).GlobalId
    g["wall12b"] = add_open_box(f, ctx, "IfcWall", name="open wall b", corner=at(111.9, 0), size=(0.2, 4, 3),
                                open_sides=("-y", "+y"), band=3.0).GlobalId
    for key, gid in list(g.items()):  # the same GlobalIds in every version, as an authoring tool keeps them
        g[key] = f.by_guid(gid).GlobalId = ifcopenshell.guid.compress(uuid.uuid5(uuid.NAMESPACE_URL, key).hex)
    return write(f, path), g


_SIDES = {"-x": (0, 0), "+x": (0, 1), "-y": (1, 0), "+y": (1, 1), "-z": (2, 0), "+z": (2, 1)}


def add_open_box(f, ctx, ifc_class: str, *, name: str, corner, size, open_sides: tuple[str, ...], band: float = 0.01):
    """A box surface without ``open_sides`` (an open shell, IfcPolygonalFaceSet), its vertical faces cut into
    ``band``-high strips the way fine exports tessellate them; lower corner at ``corner``."""
    size = np.asarray(size, float)
    levels = np.linspace(0.0, size[2], max(1, int(np.ceil(size[2] / band))) + 1)
    verts: dict[tuple, int] = {}
    faces = []

    def vid(p) -> int:
        return verts.setdefault(tuple(round(float(c), 9) for c in p), len(verts))

    for side, (axis, high) in _SIDES.items():
        if side in open_sides:
            continue
        u, v = [i for i in range(3) if i != axis]
        cuts_v = levels if v == 2 else np.array([0.0, size[v]])
        for v0, v1 in zip(cuts_v[:-1], cuts_v[1:], strict=True):
            quad = []
            for cu, cv in ((0.0, v0), (size[u], v0), (size[u], v1), (0.0, v1)):
                p = np.zeros(3)
                p[axis], p[u], p[v] = size[axis] * high, cu, cv
                quad.append(p)
            normal = np.cross(quad[1] - quad[0], quad[2] - quad[0])
            if (normal[axis] > 0) != bool(high):
                quad.reverse()  # counter-clockwise seen from outside
            faces.append([vid(p) for p in quad])
    coords = [list(p) for p in sorted(verts, key=verts.get)]
    rep = ifcopenshell.api.run("geometry.add_mesh_representation", f, context=ctx["body"], vertices=[coords],
                               faces=[faces])
    return add_element(f, ctx, ifc_class, name, rep, corner)

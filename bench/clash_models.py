"""Generated georeferenced IFC4 models with planted clashes of known kinds, for the clash benchmark.

    python -m bench.clash_models /tmp/m.ifc 2000 --offset 500 0

Each storey is a grid of 6 m bays. A bay holds a slab, a column, two walls, a beam, a water pipe and a duct;
every 4th bay a gas pipe, every 5th a door in an opening of its wall. Walls and columns stand on the slab and
carry the slab above, beams span between walls under the slab: everything touches, nothing overlaps. Then about
1 % of the elements are planted clashes of known kinds and sizes, listed in ``<model>.truth.json`` next to the file
(``depth``: the thinnest extent of the overlap in metres; ``distance``: the surface gap in metres).

``offset`` moves every object placement (the model's local coordinates) far from the origin while the map
conversion moves back by the same amount, so the city position is the same at any offset: that isolates the
precision a clash engine loses far from its origin.

Elements share their bodies through types (IfcRepresentationMap + IfcMappedItem), each with its own placement,
written with ``create_entity`` directly: 50k elements take seconds, not minutes.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import ifcopenshell
import ifcopenshell.guid

from tests.models import CITY_E, CITY_N, new_model

BAY, STOREY, SLAB, SIDE = 6.0, 3.5, 0.2, 20  # bay size, storey height, slab thickness, bays per grid row
CLEAR = STOREY - SLAB  # height of walls and columns: from slab top to the underside of the slab above
PIPE_R, GAS_R, GAS_EVERY, DOOR_EVERY = 0.05, 0.04, 4, 5
KINDS = ("pipe_wall", "duct_beam", "duplicate", "containment", "collinear", "clearance")
CLEARANCE_RULE, CLEARANCE_GAP = 0.5, 0.25  # gas rule and the planted gap (surface to surface) under it
GAS_SELECTOR = 'IfcPipeSegment, ObjectType="GAS"'
NOT_GAS_SELECTOR = 'IfcPipeSegment, ObjectType!="GAS"'
# The clash sets both engines run: "hard" checks every element against every other (touching is not a clash,
# interpenetration deeper than 10 mm is); "gas clearance" checks gas pipes against the other pipes.
CLASH_SETS = (
    {"name": "hard", "mode": "hard", "a": "all", "b": None, "tolerance": 0.01},
    {"name": "gas clearance", "mode": "clearance", "a": GAS_SELECTOR, "b": NOT_GAS_SELECTOR,
     "clearance": CLEARANCE_RULE},
)
TOUCHING = (("wall_x", "slab"), ("column", "slab"), ("beam", "wall_y"), ("column", "wall_y"))
TYPE_OF = {"IfcWall": ("IfcWallType", "STANDARD"), "IfcSlab": ("IfcSlabType", "FLOOR"),
           "IfcColumn": ("IfcColumnType", "COLUMN"), "IfcBeam": ("IfcBeamType", "BEAM"),
           "IfcPipeSegment": ("IfcPipeSegmentType", "RIGIDSEGMENT"),
           "IfcDuctSegment": ("IfcDuctSegmentType", "RIGIDSEGMENT"), "IfcDoor": ("IfcDoorType", "DOOR")}


@dataclass
class _Writer:
    """Writes entities straight into the file; one representation map per (class, shape), shared by type."""

    f: ifcopenshell.file
    ctx: ifcopenshell.entity_instance
    seed: int
    count: int = 0
    maps: dict = field(default_factory=dict)  # shape key -> (type, map)
    typed: dict = field(default_factory=dict)  # type id -> occurrences
    contained: dict = field(default_factory=dict)  # storey id -> elements

    def __post_init__(self) -> None:
        self.origin = self.f.createIfcCartesianPoint((0.0, 0.0, 0.0))
        self.frame = self.f.createIfcAxis2Placement3D(self.origin)
        self.identity = self.f.create_entity("IfcCartesianTransformationOperator3D", LocalOrigin=self.origin)
        self.up = self.f.createIfcDirection((0.0, 0.0, 1.0))
        self.along_x = self.f.createIfcAxis2Placement3D(self.origin, self.f.createIfcDirection((1.0, 0.0, 0.0)),
                                                        self.f.createIfcDirection((0.0, 1.0, 0.0)))

    def guid(self) -> str:
        """Deterministic GlobalIds: the same seed and size give the same file."""
        self.count += 1
        return ifcopenshell.guid.compress(f"{self.seed:08x}{self.count:024x}")

    def box(self, cls: str, dims: tuple[float, float, float], variant: str = "") -> tuple:
        """A type whose body is a box from its placement point to +dims; a ``variant`` is a second, equal type."""
        key = (cls, "box", dims, variant)
        if key not in self.maps:
            name = f"{cls[3:]} {dims[0]:g}x{dims[1]:g}x{dims[2]:g}{variant}"
            self.maps[key] = self._type(cls, name, self._box_solid(dims))
        return self.maps[key]

    def _box_solid(self, dims: tuple[float, float, float]) -> ifcopenshell.entity_instance:
        pos = self.f.createIfcAxis2Placement2D(self.f.createIfcCartesianPoint((dims[0] / 2, dims[1] / 2)))
        profile = self.f.createIfcRectangleProfileDef("AREA", None, pos, dims[0], dims[1])
        return self.f.createIfcExtrudedAreaSolid(profile, self.frame, self.up, dims[2])

    def opening_map(self, dims: tuple[float, float, float]) -> ifcopenshell.entity_instance:
        """Openings share a map too, but have no type."""
        key = ("IfcOpeningElement", "box", dims)
        if key not in self.maps:
            rep = self.f.createIfcShapeRepresentation(self.ctx, "Body", "SweptSolid", [self._box_solid(dims)])
            self.maps[key] = self.f.createIfcRepresentationMap(self.frame, rep)
        return self.maps[key]

    def pipe(self, radius: float, length: float, gas: bool = False) -> tuple:
        """A type whose body is a cylinder along +x from its placement point (on the axis)."""
        key = ("IfcPipeSegment", "pipe", radius, length, gas)
        if key not in self.maps:
            profile = self.f.createIfcCircleProfileDef("AREA", None, None, radius)
            solid = self.f.createIfcExtrudedAreaSolid(profile, self.along_x, self.up, length)
            name = f"{'Gas pipe' if gas else 'Pipe'} DN{round(radius * 2000)} {length:g} m"
            extra = {"PredefinedType": "USERDEFINED", "ElementType": "GAS"} if gas else {}
            self.maps[key] = self._type("IfcPipeSegment", name, solid, **extra)
        return self.maps[key]

    def _type(self, cls: str, name: str, solid, **extra) -> tuple:
        rep = self.f.createIfcShapeRepresentation(self.ctx, "Body", "SweptSolid", [solid])
        rmap = self.f.createIfcRepresentationMap(self.frame, rep)
        type_cls, predefined = TYPE_OF[cls]
        attrs = {"PredefinedType": predefined, **extra}
        if type_cls == "IfcDoorType":
            attrs["OperationType"] = "SINGLE_SWING_LEFT"
        t = self.f.create_entity(type_cls, GlobalId=self.guid(), Name=name, RepresentationMaps=[rmap], **attrs)
        self.typed[t.id()] = [t]
        return t, rmap

    def place(self, parent, xyz) -> ifcopenshell.entity_instance:
        point = self.f.createIfcCartesianPoint(tuple(float(v) for v in xyz))
        return self.f.createIfcLocalPlacement(parent, self.f.createIfcAxis2Placement3D(point))

    def element(self, cls: str, shape: tuple, storey, xyz, name: str, **attrs) -> ifcopenshell.entity_instance:
        """An occurrence of ``shape``'s type at ``xyz`` in the storey's frame."""
        t, rmap = shape
        item = self.f.createIfcMappedItem(rmap, self.identity)
        rep = self.f.createIfcShapeRepresentation(self.ctx, "Body", "MappedRepresentation", [item])
        pds = self.f.createIfcProductDefinitionShape(None, None, [rep])
        el = self.f.create_entity(cls, GlobalId=self.guid(), Name=name, ObjectPlacement=self.place(
            storey.ObjectPlacement, xyz), Representation=pds, **attrs)
        self.typed[t.id()].append(el)
        self.contained.setdefault(storey.id(), [storey]).append(el)
        return el


def _bay(w: _Writer, storey, b: int, o: tuple[float, float], split_wall: bool) -> dict:
    """One bay's elements at bay origin ``o`` (storey frame); the x wall is two collinear halves if asked."""
    x, y = o
    els = {"slab": w.element("IfcSlab", w.box("IfcSlab", (BAY, BAY, SLAB)), storey, (x, y, -SLAB), f"Slab {b}",
                             PredefinedType="FLOOR"),
           "column": w.element("IfcColumn", w.box("IfcColumn", (0.4, 0.4, CLEAR)), storey, (x - 0.2, y - 0.2, 0),
                               f"Column {b}", PredefinedType="COLUMN"),
           "wall_y": w.element("IfcWall", w.box("IfcWall", (0.2, 5.6, CLEAR)), storey, (x - 0.1, y + 0.2, 0),
                               f"Wall y {b}", PredefinedType="STANDARD"),
           "beam": w.element("IfcBeam", w.box("IfcBeam", (5.8, 0.3, 0.5)), storey, (x + 0.1, y + 2.85, CLEAR - 0.5),
                             f"Beam {b}", PredefinedType="BEAM"),
           "pipe": w.element("IfcPipeSegment", w.pipe(PIPE_R, 5.4), storey, (x + 0.3, y + 1.5, 2.0), f"Pipe {b}",
                             PredefinedType="RIGIDSEGMENT"),
           "duct": w.element("IfcDuctSegment", w.box("IfcDuctSegment", (0.4, 5.4, 0.25)), storey,
                             (x + 1.3, y + 0.3, 2.3), f"Duct {b}", PredefinedType="RIGIDSEGMENT")}
    if split_wall:  # two halves of the 5.6 m wall that overlap by 50 mm at mid-span
        half = w.box("IfcWall", (2.825, 0.2, CLEAR))
        els["wall_x"] = w.element("IfcWall", half, storey, (x + 0.2, y - 0.1, 0), f"Wall x {b}a",
                                  PredefinedType="STANDARD")
        other = w.box("IfcWall", (2.825, 0.2, CLEAR), " b")  # its own type: not a shared body
        els["wall_x2"] = w.element("IfcWall", other, storey, (x + 2.975, y - 0.1, 0), f"Wall x {b}b",
                                   PredefinedType="STANDARD")
    else:
        els["wall_x"] = w.element("IfcWall", w.box("IfcWall", (5.6, 0.2, CLEAR)), storey, (x + 0.2, y - 0.1, 0),
                                  f"Wall x {b}", PredefinedType="STANDARD")
    if b % GAS_EVERY == 0:
        els["gas"] = w.element("IfcPipeSegment", w.pipe(GAS_R, 5.4, gas=True), storey, (x + 0.3, y + 4.5, 2.0),
                               f"Gas pipe {b}", PredefinedType="USERDEFINED", ObjectType="GAS")
    if b % DOOR_EVERY == 0 and not split_wall:
        els["door"] = _door(w, storey, b, els["wall_x"], (x, y))
    return els


def _door(w: _Writer, storey, b: int, wall, o: tuple[float, float]):
    """A 1.0 x 2.1 m opening through the x wall, filled by a door that touches its jambs, head and the slab."""
    item = w.f.createIfcMappedItem(w.opening_map((1.0, 0.4, 2.1)), w.identity)
    rep = w.f.createIfcShapeRepresentation(w.ctx, "Body", "MappedRepresentation", [item])
    opening = w.f.create_entity("IfcOpeningElement", GlobalId=w.guid(), Name=f"Opening {b}",
                                ObjectPlacement=w.place(wall.ObjectPlacement, (1.8, -0.1, 0.0)),
                                Representation=w.f.createIfcProductDefinitionShape(None, None, [rep]),
                                PredefinedType="OPENING")
    w.f.createIfcRelVoidsElement(w.guid(), None, None, None, wall, opening)
    door = w.element("IfcDoor", w.box("IfcDoor", (1.0, 0.1, 2.1)), storey, (o[0] + 2.0, o[1] - 0.05, 0),
                     f"Door {b}", OverallHeight=2.1, OverallWidth=1.0, PredefinedType="DOOR")
    w.f.createIfcRelFillsElement(w.guid(), None, None, None, opening, door)
    return door


def _truth(a, b, kind: str, depth: float | None = None, distance: float | None = None, **extra) -> dict:
    (ga, ca), (gb, cb) = sorted([(a.GlobalId, a.is_a()), (b.GlobalId, b.is_a())])
    return {"a": ga, "b": gb, "classes": [ca, cb], "kind": kind, "depth": depth, "distance": distance, **extra}


def _plant(w: _Writer, storey, kind: str, b: int, o: tuple[float, float], els: dict) -> dict:
    """Add the planted element(s) for ``kind`` to bay ``b`` and return the ground-truth record."""
    x, y = o
    if kind == "pipe_wall":  # 1 m pipe straight through the 0.2 m y wall, 1.2 m above the floor
        pipe = w.element("IfcPipeSegment", w.pipe(PIPE_R, 1.0), storey, (x - 0.5, y + 2.2, 1.2), f"Pipe {b}w",
                         PredefinedType="RIGIDSEGMENT")
        return _truth(pipe, els["wall_y"], "hard", depth=2 * PIPE_R, overlap=[0.2, 2 * PIPE_R, 2 * PIPE_R])
    if kind == "duct_beam":  # 1 m duct through the 0.3 m beam, inside the beam's depth
        duct = w.element("IfcDuctSegment", w.box("IfcDuctSegment", (0.3, 1.0, 0.2)), storey,
                         (x + 4.0, y + 2.5, CLEAR - 0.4), f"Duct {b}b", PredefinedType="RIGIDSEGMENT")
        return _truth(duct, els["beam"], "hard", depth=0.2, overlap=[0.3, 0.3, 0.2])
    if kind == "duplicate":  # the x wall exported twice
        wall = w.element("IfcWall", w.box("IfcWall", (5.6, 0.2, CLEAR), " copy"), storey, (x + 0.2, y - 0.1, 0),
                         f"Wall x {b}", PredefinedType="STANDARD")
        return _truth(wall, els["wall_x"], "duplicate", depth=0.2, overlap=[5.6, 0.2, CLEAR])
    if kind == "containment":  # 2 m pipe cast entirely inside the 0.2 m slab
        pipe = w.element("IfcPipeSegment", w.pipe(PIPE_R, 2.0), storey, (x + 1.0, y + 3.8, -SLAB / 2),
                         f"Pipe {b}s", PredefinedType="RIGIDSEGMENT")
        return _truth(pipe, els["slab"], "containment", depth=2 * PIPE_R, inside=pipe.GlobalId,
                      overlap=[2.0, 2 * PIPE_R, 2 * PIPE_R])
    if kind == "collinear":
        return _truth(els["wall_x"], els["wall_x2"], "hard", depth=0.05, overlap=[0.05, 0.2, CLEAR])
    if kind == "clearance":  # a water pipe parallel to the gas pipe, CLEARANCE_GAP from surface to surface
        centre = 4.5 + GAS_R + CLEARANCE_GAP + PIPE_R
        pipe = w.element("IfcPipeSegment", w.pipe(PIPE_R, 5.4), storey, (x + 0.3, y + centre, 2.0), f"Pipe {b}g",
                         PredefinedType="RIGIDSEGMENT")
        return _truth(pipe, els["gas"], "clearance", distance=CLEARANCE_GAP)
    raise ValueError(f"unknown planted kind {kind!r}: use one of {KINDS}")


def _per_bay(b: int) -> int:
    return 7 + (b % GAS_EVERY == 0) + (b % DOOR_EVERY == 0)


def _plan(n_elements: int, seed: int) -> tuple[int, dict[int, str]]:
    """How many bays, and which bay gets which plant (each in its own bay; doors and plants never share)."""
    per_kind = max(2, round(n_elements / 1200))
    budget, bays = n_elements - per_kind * len(KINDS), 0
    while budget > 0:
        budget -= _per_bay(bays)
        bays += 1
    rng = random.Random(seed)
    plain = [b for b in range(bays) if b % DOOR_EVERY]
    gas = [b for b in plain if b % GAS_EVERY == 0]
    if len(gas) < per_kind or len(plain) < per_kind * len(KINDS):
        raise ValueError(f"{n_elements} elements are too few to plant {per_kind} clashes of each kind: use >= 150")
    plan = dict.fromkeys(rng.sample(gas, per_kind), "clearance")
    rest = rng.sample([b for b in plain if b not in plan], per_kind * (len(KINDS) - 1))
    plan.update({b: KINDS[i % (len(KINDS) - 1)] for i, b in enumerate(rest)})
    return bays, plan


def _storey(w: _Writer, ctx: dict, level: int) -> ifcopenshell.entity_instance:
    if level == 0:
        return ctx["storey"]
    parent = ctx["building"].ObjectPlacement
    storey = w.f.create_entity("IfcBuildingStorey", GlobalId=w.guid(), Name=f"Level {level}",
                               ObjectPlacement=w.place(parent, (0.0, 0.0, level * STOREY)), Elevation=level * STOREY)
    rel = ctx["building"].IsDecomposedBy[0]
    rel.RelatedObjects = [*rel.RelatedObjects, storey]
    return storey


def _relate(w: _Writer, systems: list) -> None:
    """Containment per storey, type per occurrence, one material per class, the gas pipes as a gas system."""
    f = w.f
    for members in w.contained.values():
        f.createIfcRelContainedInSpatialStructure(w.guid(), None, None, None, members[1:], members[0])
    by_class: dict[str, list] = {}
    for t, *occurrences in w.typed.values():
        if not occurrences:
            continue
        f.createIfcRelDefinesByType(w.guid(), None, None, None, occurrences, t)
        by_class.setdefault(t.is_a(), []).append(t)
    for cls, types in by_class.items():
        material = f.createIfcMaterial(f"{cls[3:-4]} material")
        f.createIfcRelAssociatesMaterial(w.guid(), None, None, None, types, material)
    if systems:
        gas = f.create_entity("IfcDistributionSystem", GlobalId=w.guid(), Name="Gas", PredefinedType="GAS")
        f.createIfcRelAssignsToGroup(w.guid(), None, None, None, systems, None, gas)


def generate(path: Path, n_elements: int, *, offset: tuple[float, float] = (0.0, 0.0), seed: int = 0) -> dict:
    """Write the model and ``<stem>.truth.json`` beside it; return the ground truth with the facts of the model."""
    start = time.perf_counter()
    path = Path(path)
    ox, oy = float(offset[0]), float(offset[1])
    f, ctx = new_model(eastings=CITY_E - ox, northings=CITY_N - oy)
    w = _Writer(f, ctx["body"], seed)
    bays, plan = _plan(n_elements, seed)
    truth, controls, gas, storeys = [], [], [], {}
    for b in range(bays):
        level, cell = divmod(b, SIDE * SIDE)
        if level not in storeys:
            storeys[level] = _storey(w, ctx, level)
        o = (ox + (cell % SIDE) * BAY, oy + (cell // SIDE) * BAY)
        els = _bay(w, storeys[level], b, o, split_wall=plan.get(b) == "collinear")
        if b in plan:
            truth.append({**_plant(w, storeys[level], plan[b], b, o, els), "planted": plan[b]})
        if "gas" in els:
            gas.append(els["gas"])
        if "door" in els:
            controls.append(_truth(els["door"], els["wall_x"], "door_in_opening"))
        if b < 8:  # a sample of the touching pairs; every touching pair must stay quiet, these are named
            controls += [_truth(els[a], els[b], "touching") for a, b in TOUCHING]
    _relate(w, gas)
    f.write(str(path))
    elements = [e for e in f.by_type("IfcElement") if not e.is_a("IfcFeatureElement")]
    result = {"path": str(path), "truth_path": str(truth_path(path)), "n_elements": len(elements),
              "n_requested": n_elements, "storeys": len(storeys), "bays": bays, "offset": [ox, oy], "seed": seed,
              "city_origin": [CITY_E, CITY_N], "crs": "EPSG:4549", "clash_sets": list(CLASH_SETS),
              "clashes": truth, "controls": controls, "seconds": round(time.perf_counter() - start, 3)}
    truth_path(path).write_text(json.dumps(result, indent=1))
    return result


def truth_path(path: Path) -> Path:
    return Path(path).with_suffix(".truth.json")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path", type=Path, help="IFC file to write; the ground truth goes to <stem>.truth.json")
    parser.add_argument("n_elements", type=int, help="about how many building elements (>= 150)")
    parser.add_argument("--offset", type=float, nargs=2, default=(0.0, 0.0), metavar=("X", "Y"),
                        help="move the local coordinates this far from the origin, metres (city position unchanged)")
    parser.add_argument("--seed", type=int, default=0, help="which bays get the planted clashes")
    args = parser.parse_args(argv)
    result = generate(args.path, args.n_elements, offset=tuple(args.offset), seed=args.seed)
    kinds: dict[str, int] = {}
    for c in result["clashes"]:
        kinds[c["planted"]] = kinds.get(c["planted"], 0) + 1
    print(f"{result['path']}: {result['n_elements']} elements on {result['storeys']} storeys in "
          f"{result['seconds']} s; planted {kinds}")


if __name__ == "__main__":
    main()

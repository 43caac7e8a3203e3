"""Turn a BuildingSpec into an IFC model: storeys, walls with windows and doors in openings, slabs, columns,
beams, spaces, ducts and pipes in systems, materials, base quantities and the planted clashes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import ifcopenshell.api.feature
import ifcopenshell.api.system
import ifcopenshell.guid

from cim.samples import ifc_build as b
from cim.samples.grid_building import (
    BASEMENT_SLAB,
    BASEMENT_WALL,
    BEAM_DEPTH,
    BEAM_WIDTH,
    COLUMN,
    SLAB,
    WALL,
    BuildingSpec,
)

Entity = b.Entity
CONCRETE = ("Concrete C30/37", "concrete")
BLOCK = ("Aerated concrete block", "block")
GLASS = ("Aluminium frame, double glazing", "glass")
TIMBER = ("Timber door leaf", "wood")
STEEL = ("Galvanised steel duct", "steel")
PPR = ("PP-R pipe", "plastic")


@dataclass
class PlantedClash:
    kind: str
    a: Entity
    b: Entity
    note: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "a_name": self.a.Name, "a_class": self.a.is_a(), "a_guid": self.a.GlobalId,
                "b_name": self.b.Name, "b_class": self.b.is_a(), "b_guid": self.b.GlobalId, "note": self.note}


@dataclass
class Storey:
    entity: Entity
    index: int  # 0 = ground floor, -1 = basement
    height: float
    products: list[Entity] = field(default_factory=list)
    spaces: list[Entity] = field(default_factory=list)  # aggregated, not contained


@dataclass
class Builder:
    spec: BuildingSpec
    m: b.Model
    bag: dict[tuple[str, str], list[Entity]] = field(default_factory=dict)  # material -> products
    supply_air: Entity | None = None
    cold_water: Entity | None = None
    ducts: list[Entity] = field(default_factory=list)
    pipes: list[Entity] = field(default_factory=list)
    clashes: list[PlantedClash] = field(default_factory=list)

    @property
    def ifc2x3(self) -> bool:
        return self.m.f.schema == "IFC2X3"

    def add(self, storey: Storey, ifc_class: str, name: str, mat: tuple[str, str] | None, *,
            predefined: str | None = None, place: Entity | None = None, items: list[Entity] | None = None) -> Entity:
        element = b.create(self.m, ifc_class, name, predefined=predefined,
                           place=place or b.placement(self.m, 0, 0, 0, relative_to=storey.entity.ObjectPlacement),
                           items=items)
        (storey.spaces if ifc_class == "IfcSpace" else storey.products).append(element)
        if mat:
            self.bag.setdefault(mat, []).append(element)
        return element


def build(spec: BuildingSpec) -> tuple[b.Model, list[PlantedClash]]:
    """Build the whole model in memory; GlobalIds are final once this returns."""
    m = b.new_model(spec.schema, f"{spec.title} ({spec.parcel_id})", f"Parcel {spec.parcel_id}", spec.title,
                    millimetres=spec.millimetres)
    bld = Builder(spec, m)
    with b.shared_owner_history(m._history):
        _systems(bld)
        storeys = _storeys(bld)
        for storey in storeys:
            if storey.index < 0:
                _basement(bld, storey)
            else:
                _floor(bld, storey)
        _plant_clashes(bld, storeys)
        for storey in storeys:
            _contain(m, storey)
        for (name, category), products in bld.bag.items():
            b.assign_material(m, products, name, category)
        ifcopenshell.api.system.assign_system(m.f, products=bld.ducts, system=bld.supply_air)
        ifcopenshell.api.system.assign_system(m.f, products=bld.pipes, system=bld.cold_water)
        b.georeference(m, spec.origin_e, spec.origin_n, spec.rotation_deg)
        b.site_reference(m, *spec.to_map(0.0, 0.0), offset_north_m=spec.site_offset_north_m)  # the site origin
        b.add_pset(m, m.building, "Pset_BuildingCommon", {"NumberOfStoreys": spec.storeys,
                                                          "OccupancyType": spec.use})
    b.finalise(m, spec.model_id, Path(spec.file_name).name, spec.description or spec.title)
    return m, bld.clashes


def write(spec: BuildingSpec, path: Path) -> list[dict[str, str]]:
    """Write ``spec`` to ``path``; return the planted clashes (names and GlobalIds) for the README."""
    m, clashes = build(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    m.f.write(str(path))
    return [c.as_dict() for c in clashes]


def _contain(m: b.Model, storey: Storey) -> None:
    """One containment and one space aggregation per storey, written directly: every placement is already
    relative to the storey, so the API's placement re-basing (the slow part) has nothing to do."""
    f = m.f
    f.create_entity("IfcRelContainedInSpatialStructure", GlobalId=ifcopenshell.guid.new(), OwnerHistory=m._history,
                    RelatedElements=storey.products, RelatingStructure=storey.entity)
    if storey.spaces:
        b.aggregate(m, storey.entity, storey.spaces)


def _systems(bld: Builder) -> None:
    cls = "IfcSystem" if bld.ifc2x3 else "IfcDistributionSystem"
    bld.supply_air = b.create_plain(bld.m, cls, "Supply air", ObjectType="VENTILATION" if bld.ifc2x3 else None)
    bld.cold_water = b.create_plain(bld.m, cls, "Domestic cold water",
                                    ObjectType="DOMESTICCOLDWATER" if bld.ifc2x3 else None)
    if not bld.ifc2x3:
        bld.supply_air.PredefinedType = "VENTILATION"
        bld.cold_water.PredefinedType = "DOMESTICCOLDWATER"


def _storeys(bld: Builder) -> list[Storey]:
    spec, m = bld.spec, bld.m
    out: list[Storey] = []
    if spec.basement:
        out.append(_storey(m, "B1", "Basement", -spec.basement.height, -1, spec.basement.height))
    for i in range(spec.storeys):
        long_name = "Ground floor" if i == 0 else f"Floor {i + 1}"
        out.append(_storey(m, f"L{i + 1}", long_name, i * spec.storey_height, i, spec.storey_height))
    b.aggregate(m, m.building, [s.entity for s in out])
    return out


def _storey(m: b.Model, name: str, long_name: str, elevation: float, index: int, height: float) -> Storey:
    entity = b.create(m, "IfcBuildingStorey", name,
                      place=b.placement(m, 0, 0, elevation, relative_to=m.building.ObjectPlacement))
    entity.LongName = long_name
    entity.Elevation = m.L(elevation)
    return Storey(entity, index, height)


def _floor(bld: Builder, storey: Storey) -> None:
    spec, m = bld.spec, bld.m
    h, level = storey.height, storey.entity.Name
    xs, ys = spec.grid_x(), spec.grid_y()
    slab = bld.add(storey, "IfcSlab", f"{level} floor slab", CONCRETE, predefined="FLOOR",
                   items=[b.box(m, spec.width, spec.depth, SLAB, 0, 0, -SLAB)])
    b.add_qto(m, slab, "Qto_SlabBaseQuantities", _slab_qto(spec.width, spec.depth))
    if storey.index == spec.storeys - 1:
        roof = bld.add(storey, "IfcSlab", "Roof slab", CONCRETE, predefined="ROOF",
                       items=[b.box(m, spec.width, spec.depth, SLAB, 0, 0, h - SLAB)])
        b.add_qto(m, roof, "Qto_SlabBaseQuantities", _slab_qto(spec.width, spec.depth))
    col_h = h - SLAB
    for i, x in enumerate(xs):
        for j, y in enumerate(ys):
            col = bld.add(storey, "IfcColumn", f"{level} column {i + 1}/{_row(j)}", CONCRETE, predefined="COLUMN",
                          items=[b.box(m, COLUMN, COLUMN, col_h, x - COLUMN / 2, y - COLUMN / 2, 0)])
            if storey.index == 0:
                b.add_qto(m, col, "Qto_ColumnBaseQuantities",
                          {"Length": col_h, "CrossSectionArea": COLUMN**2, "GrossVolume": COLUMN**2 * col_h})
    beam_z = h - SLAB - BEAM_DEPTH
    for x0, x1, y, tag, _, _ in _runs_x(xs, ys):
        bld.add(storey, "IfcBeam", f"{level} beam {tag}", CONCRETE, predefined="BEAM",
                items=[b.box(m, x1 - x0, BEAM_WIDTH, BEAM_DEPTH, x0, y - BEAM_WIDTH / 2, beam_z)])
    for y0, y1, x, tag, _, _ in _runs_y(xs, ys):
        bld.add(storey, "IfcBeam", f"{level} beam {tag}", CONCRETE, predefined="BEAM",
                items=[b.box(m, BEAM_WIDTH, y1 - y0, BEAM_DEPTH, x - BEAM_WIDTH / 2, y0, beam_z)])
    _walls(bld, storey, xs, ys, beam_z)
    _spaces(bld, storey, xs, ys, beam_z)
    _services(bld, storey, xs, ys, beam_z)


def _row(j: int) -> str:
    return "ABCDEFGH"[j]


Run = tuple[float, float, float, str, int, int]


def _runs_x(xs: list[float], ys: list[float]) -> list[Run]:
    """Spans between column faces along the lines of constant y: (x0, x1, y, tag, i, j)."""
    return [(xs[i] + COLUMN / 2, xs[i + 1] - COLUMN / 2, y, f"{i + 1}-{i + 2}/{_row(j)}", i, j)
            for j, y in enumerate(ys) for i in range(len(xs) - 1)]


def _runs_y(xs: list[float], ys: list[float]) -> list[Run]:
    """Spans between column faces along the lines of constant x: (y0, y1, x, tag, i, j)."""
    return [(ys[j] + COLUMN / 2, ys[j + 1] - COLUMN / 2, x, f"{i + 1}/{_row(j)}-{_row(j + 1)}", i, j)
            for i, x in enumerate(xs) for j in range(len(ys) - 1)]


def _slab_qto(width: float, depth: float) -> dict[str, float]:
    return {"Width": SLAB, "Length": width, "Depth": SLAB, "Perimeter": 2 * (width + depth),
            "GrossArea": width * depth, "NetArea": width * depth, "GrossVolume": width * depth * SLAB,
            "NetVolume": width * depth * SLAB}


def _walls(bld: Builder, storey: Storey, xs: list[float], ys: list[float], wall_h: float) -> None:
    """Perimeter walls with windows (entrance doors on the ground floor), partitions and corridor walls."""
    m, level, nx, ny = bld.m, storey.entity.Name, len(xs) - 1, len(ys) - 1
    sp = storey.entity.ObjectPlacement
    window_h = min(1.5, wall_h - 0.9 - 0.15)  # openings stay below the beams the walls stop under
    door_h = min(2.4, wall_h - 0.15)
    for x0, x1, y, tag, i, j in _runs_x(xs, ys):
        perimeter = j in (0, ny)
        corridor = not perimeter and j == 1
        if not (perimeter or corridor):
            continue
        length = x1 - x0
        wall = bld.add(storey, "IfcWall", f"{level} wall {tag}", BLOCK, predefined="SOLIDWALL",
                       place=b.placement(m, x0, y - WALL / 2, 0, relative_to=sp),
                       items=[b.box(m, length, WALL, wall_h)])
        openings: list[tuple[float, float, float]] = []
        if perimeter and storey.index == 0 and j == 0 and i == nx // 2:
            openings.append(_fill(bld, storey, wall, "IfcDoor", f"{level} entrance door {tag}", length, 1.8, door_h, 0))
        elif perimeter:
            openings.append(_fill(bld, storey, wall, "IfcWindow", f"{level} window {tag}", length,
                                  min(1.8, length * 0.5), window_h, 0.9))
        elif i % 2 == 0:
            openings.append(_fill(bld, storey, wall, "IfcDoor", f"{level} door {tag}", length, 0.9,
                                  min(2.1, door_h), 0))
        if storey.index == 0 and perimeter:
            _wall_qto(m, wall, length, wall_h, openings)
    for y0, y1, x, tag, i, _ in _runs_y(xs, ys):
        if i not in (0, nx) and i % 2:
            continue
        length = y1 - y0
        wall = bld.add(storey, "IfcWall", f"{level} wall {tag}", BLOCK, predefined="SOLIDWALL",
                       place=b.placement(m, x + WALL / 2, y0, 0, relative_to=sp, angle_deg=90),
                       items=[b.box(m, length, WALL, wall_h)])
        openings = []
        if i in (0, nx):
            openings.append(_fill(bld, storey, wall, "IfcWindow", f"{level} window {tag}", length,
                                  min(1.8, length * 0.5), window_h, 0.9))
        if storey.index == 0 and i in (0, nx):
            _wall_qto(m, wall, length, wall_h, openings)


def _fill(bld: Builder, storey: Storey, wall: Entity, ifc_class: str, name: str, length: float, width: float,
          height: float, sill: float) -> tuple[float, float, float]:
    """Cut an opening in the middle of ``wall`` and fill it; return (width, height, sill)."""
    m = bld.m
    x0 = (length - width) / 2
    opening = b.create(m, "IfcOpeningElement", f"{name} opening", predefined="OPENING",
                       place=b.placement(m, 0, 0, 0, relative_to=wall.ObjectPlacement),
                       items=[b.box(m, width, WALL + 0.1, height, x0, -0.05, sill)])
    ifcopenshell.api.feature.add_feature(m.f, feature=opening, element=wall)
    mat = GLASS if ifc_class == "IfcWindow" else TIMBER
    predefined = None if bld.ifc2x3 else ("WINDOW" if ifc_class == "IfcWindow" else "DOOR")
    fill = bld.add(storey, ifc_class, name, mat, predefined=predefined,
                   place=b.placement(m, 0, 0, 0, relative_to=opening.ObjectPlacement),
                   items=[b.box(m, width, 0.06, height, x0, WALL / 2 - 0.03, sill)])
    fill.OverallWidth, fill.OverallHeight = m.L(width), m.L(height)
    ifcopenshell.api.feature.add_filling(m.f, opening=opening, element=fill)
    return width, height, sill


def _wall_qto(m: b.Model, wall: Entity, length: float, height: float,
              openings: list[tuple[float, float, float]]) -> None:
    cut = sum(w * h for w, h, _ in openings)
    b.add_qto(m, wall, "Qto_WallBaseQuantities", {
        "Length": length, "Width": WALL, "Height": height, "GrossSideArea": length * height,
        "NetSideArea": length * height - cut, "GrossVolume": length * height * WALL,
        "NetVolume": (length * height - cut) * WALL})


def _spaces(bld: Builder, storey: Storey, xs: list[float], ys: list[float], top: float) -> None:
    spec, level = bld.spec, storey.entity.Name
    usages = spec.ground_usages if storey.index == 0 else spec.usages
    for j in range(len(ys) - 1):
        usage = usages[j % len(usages)]
        for i in range(len(xs) - 1):
            x0, y0 = xs[i] + COLUMN / 2, ys[j] + COLUMN / 2
            dx, dy = xs[i + 1] - xs[i] - COLUMN, ys[j + 1] - ys[j] - COLUMN
            _space(bld, storey, f"{level}-{_row(j)}{i + 1:02d}", usage, x0, y0, dx, dy, top, storey.index == 0)


def _space(bld: Builder, storey: Storey, name: str, usage: str, x0: float, y0: float, dx: float, dy: float,
           top: float, with_qto: bool) -> Entity:
    m = bld.m
    predefined = None if bld.ifc2x3 else "INTERNAL"
    space = bld.add(storey, "IfcSpace", name, None, predefined=predefined,
                    items=[b.box(m, dx, dy, top, x0, y0, 0)])
    space.LongName, space.ObjectType = usage, usage
    if bld.ifc2x3:
        space.InteriorOrExteriorSpace = "INTERNAL"
    b.add_pset(m, space, "Pset_SpaceOccupancyRequirements", {"OccupancyType": usage})
    if with_qto:
        b.add_qto(m, space, "Qto_SpaceBaseQuantities", {"Height": top, "GrossFloorArea": dx * dy,
                                                        "NetFloorArea": dx * dy, "GrossVolume": dx * dy * top})
    return space


def _segment(bld: Builder, storey: Storey, name: str, item: Entity, kind: str) -> Entity:
    """A duct or pipe segment; IFC2X3 has no such classes, so there it is an IfcFlowSegment with ObjectType."""
    ifc4_class, material, bucket = {"Duct": ("IfcDuctSegment", STEEL, bld.ducts),
                                    "Pipe": ("IfcPipeSegment", PPR, bld.pipes)}[kind]
    cls, predefined = ("IfcFlowSegment", None) if bld.ifc2x3 else (ifc4_class, "RIGIDSEGMENT")
    segment = bld.add(storey, cls, name, material, predefined=predefined, items=[item])
    if bld.ifc2x3:
        segment.ObjectType = f"{kind} segment"
    bucket.append(segment)
    return segment


def _duct(bld: Builder, storey: Storey, name: str, item: Entity) -> Entity:
    return _segment(bld, storey, name, item, "Duct")


def _pipe(bld: Builder, storey: Storey, name: str, item: Entity) -> Entity:
    return _segment(bld, storey, name, item, "Pipe")


def _services(bld: Builder, storey: Storey, xs: list[float], ys: list[float], beam_z: float) -> None:
    """A supply-air branch in each bay of row A, a water riser and a branch: all clear of the structure."""
    m, level = bld.m, storey.entity.Name
    y = ys[1] - COLUMN / 2 - 0.8
    for i in range(len(xs) - 1):
        x0, x1 = xs[i] + COLUMN / 2 + 0.3, xs[i + 1] - COLUMN / 2 - 0.3
        _duct(bld, storey, f"{level} supply air duct {i + 1}-{i + 2}/A",
              b.rect_duct(m, (x0, y, beam_z - 0.45), "x", x1 - x0, 0.5, 0.3))
    rx, ry = xs[0] + COLUMN / 2 + 0.5, ys[0] + COLUMN / 2 + 0.5
    _pipe(bld, storey, f"{level} cold water riser 1/A", b.cylinder(m, (rx, ry, 0.05), "z", beam_z - 0.1, 0.04))
    _pipe(bld, storey, f"{level} cold water branch 1-2/A",
          b.cylinder(m, (rx + 0.1, ry, 0.3), "x", xs[1] - xs[0] - COLUMN - 1.2, 0.025))


def _basement(bld: Builder, storey: Storey) -> None:
    """Retaining walls, floor slab, roof-slab extension beyond the building, interior columns, car park."""
    spec, m = bld.spec, bld.m
    bm = spec.basement
    assert bm is not None
    h, t = bm.height, BASEMENT_WALL
    wall_h = h - SLAB
    slab = bld.add(storey, "IfcSlab", "B1 floor slab", CONCRETE, predefined="BASESLAB",
                   items=[b.box(m, bm.x1 - bm.x0, bm.y1 - bm.y0, BASEMENT_SLAB, bm.x0, bm.y0, -BASEMENT_SLAB)])
    b.add_qto(m, slab, "Qto_SlabBaseQuantities", {
        "Width": BASEMENT_SLAB, "GrossArea": (bm.x1 - bm.x0) * (bm.y1 - bm.y0),
        "GrossVolume": (bm.x1 - bm.x0) * (bm.y1 - bm.y0) * BASEMENT_SLAB})
    walls = [("south", bm.x0, bm.y0, bm.x1 - bm.x0, t), ("north", bm.x0, bm.y1 - t, bm.x1 - bm.x0, t),
             ("west", bm.x0, bm.y0 + t, t, bm.y1 - bm.y0 - 2 * t),
             ("east", bm.x1 - t, bm.y0 + t, t, bm.y1 - bm.y0 - 2 * t)]
    for side, x0, y0, dx, dy in walls:
        wall = bld.add(storey, "IfcWall", f"B1 retaining wall {side}", CONCRETE, predefined="SOLIDWALL",
                       items=[b.box(m, dx, dy, wall_h, x0, y0, 0)])
        b.add_qto(m, wall, "Qto_WallBaseQuantities", {
            "Length": max(dx, dy), "Width": t, "Height": wall_h, "GrossSideArea": max(dx, dy) * wall_h,
            "GrossVolume": dx * dy * wall_h})
    for name, y0, y1 in (("south", bm.y0, 0.0), ("north", spec.depth, bm.y1)):
        if y1 - y0 > 0.01:
            bld.add(storey, "IfcSlab", f"B1 roof slab {name} extension", CONCRETE, predefined="FLOOR",
                    items=[b.box(m, bm.x1 - bm.x0, y1 - y0, SLAB, bm.x0, y0, h - SLAB)])
    xs, ys = spec.grid_x(), spec.grid_y()
    for i, x in enumerate(xs[1:-1], start=1):
        for j, y in enumerate(ys[1:-1], start=1):
            bld.add(storey, "IfcColumn", f"B1 column {i + 1}/{_row(j)}", CONCRETE, predefined="COLUMN",
                    items=[b.box(m, COLUMN, COLUMN, wall_h, x - COLUMN / 2, y - COLUMN / 2, 0)])
    # The car park stays clear of the interior columns' line by keeping to the basement's southern part.
    _space(bld, storey, "B1-P01", "Parking", bm.x0 + t, bm.y0 + t, bm.x1 - bm.x0 - 2 * t,
           ys[1] - COLUMN / 2 - bm.y0 - t, wall_h, True)
    _duct(bld, storey, "B1 exhaust air duct", b.rect_duct(m, (bm.x0 + t + 1.0, bm.y0 + t + 1.5, wall_h - 0.6), "x",
                                                         bm.x1 - bm.x0 - 2 * t - 2.0, 0.6, 0.4))
    _pipe(bld, storey, "B1 cold water main", b.cylinder(m, (bm.x0 + t + 0.5, bm.y0 + t + 0.5, 0.4), "x",
                                                         bm.x1 - bm.x0 - 2 * t - 1.0, 0.05))


def _plant_clashes(bld: Builder, storeys: list[Storey]) -> None:
    """Deliberate internal clashes the review must find (listed in sample_models/README.md)."""
    spec, m = bld.spec, bld.m
    by_index = {s.index: s for s in storeys}
    xs, ys = spec.grid_x(), spec.grid_y()
    for clash in spec.clashes:
        storey = by_index[clash.storey]
        level, h = storey.entity.Name, storey.height
        if clash.kind == "duct-beam":
            beam = _product(storey, f"{level} beam 2-3/B")
            beam_z = h - SLAB - BEAM_DEPTH
            x = (xs[1] + xs[2]) / 2
            duct = _duct(bld, storey, f"{level} supply air duct riser-offset 2-3/A-B",
                         b.rect_duct(m, (x, ys[1] - 1.5, beam_z + 0.1), "y", 3.0, 0.4, 0.3))
            bld.clashes.append(PlantedClash("duct-beam", duct, beam, "supply-air duct runs through a beam"))
        elif clash.kind == "pipe-column":
            column = _product(storey, f"{level} column 3/B")
            pipe = _pipe(bld, storey, f"{level} cold water riser 3/B",
                         b.cylinder(m, (xs[2] + 0.1, ys[1], 0.05), "z", h - SLAB - 0.1, 0.04))
            bld.clashes.append(PlantedClash("pipe-column", pipe, column, "water riser runs inside a column"))
        elif clash.kind == "duplicate-wall":
            wall = _product(storey, f"{level} wall 1-2/A")
            copy = bld.add(storey, "IfcWall", wall.Name, BLOCK, predefined="SOLIDWALL",
                           place=b.placement(m, xs[0] + COLUMN / 2, ys[0] - WALL / 2, 0,
                                             relative_to=storey.entity.ObjectPlacement),
                           items=[b.box(m, xs[1] - xs[0] - COLUMN, WALL, h - SLAB - BEAM_DEPTH)])
            bld.clashes.append(PlantedClash("duplicate-wall", copy, wall, "the same wall modelled twice"))
        else:
            raise ValueError(f"unknown clash kind {clash.kind!r}")


def _product(storey: Storey, name: str) -> Entity:
    return next(p for p in storey.products if p.Name == name)

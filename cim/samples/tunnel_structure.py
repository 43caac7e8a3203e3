"""Spatial structure (site > facility > compartments > fire compartments) and the concrete box structure."""

from __future__ import annotations

from dataclasses import dataclass, field

import ifcopenshell.api.material
import ifcopenshell.api.spatial

from cim.samples import layout
from cim.samples import tunnel_spec as spec
from cim.samples.tunnel_ifc import Entity, Model


@dataclass
class Spatial:
    """Handles to the spatial containers; ``fire[key][i]`` is fire compartment i of compartment ``key``."""

    site: Entity
    facility: Entity
    compartments: dict[str, Entity] = field(default_factory=dict)
    fire: dict[str, list[Entity]] = field(default_factory=dict)
    contents: dict[int, list[Entity]] = field(default_factory=dict)  # container id -> contained elements

    def fire_compartment(self, key: str, chainage: float) -> Entity:
        return self.fire[key][spec.fire_index(spec.compartment(key), chainage)]

    def contain(self, container: Entity, element: Entity) -> None:
        self.contents.setdefault(container.id(), []).append(element)

    def flush(self, m: Model) -> None:
        """One IfcRelContainedInSpatialStructure per container (fast; the api call per element is slow)."""
        for container_id, elements in self.contents.items():
            m.contain(m.f.by_id(container_id), elements)
        self.contents.clear()


def fire_name(key: str, index: int) -> str:
    return f"{key}-FC{index + 1}"


def build_spatial(m: Model) -> Spatial:
    """Site and facility at the false origin; compartments and fire compartments as IfcFacilityPartCommon."""
    site = m.product("IfcSite", "Binhai New City demo district", ObjectPlacement=m.local_placement(0, 0, 0))
    site.RefElevation = layout.GROUND_Z
    facility = m.product(
        "IfcFacility",
        "Binhai Avenue Utility Tunnel",
        ObjectType="UtilityTunnel",
        LongName="Binhai Avenue 综合管廊 K0+000 - K1+000",
        CompositionType="ELEMENT",
        ObjectPlacement=m.local_placement(0, 0, 0, site.ObjectPlacement),
    )
    m.aggregate(m.project, [site])
    m.aggregate(site, [facility])
    ifcopenshell.api.spatial.reference_structure(m.f, products=[m.alignment], relating_structure=facility)
    m.pset(
        [facility],
        "Pset_CimTunnel",
        {
            "Standard": "GB 50838-2015",
            "ChainageStart": 0.0,
            "ChainageEnd": spec.LENGTH,
            "OuterWidth": m.length(layout.TUNNEL_OUTER_WIDTH),
            "OuterHeight": m.length(layout.TUNNEL_OUTER_HEIGHT),
            "CoverDepth": m.length(layout.GROUND_Z - layout.TUNNEL_TOP_Z),
            "Owner": spec.TUNNEL_OWNER.name,
            "Operator": spec.TUNNEL_OPERATOR.name,
        },
    )
    s = Spatial(site, facility)
    for comp in spec.COMPARTMENTS:
        part = _part(m, comp.name, "TunnelCompartment", facility.ObjectPlacement)
        part.LongName = comp.key
        m.pset(
            [part],
            "Pset_CimTunnelCompartment",
            {
                "CompartmentKey": comp.key,
                "CompartmentType": comp.kind,
                "Width": m.length(comp.width),
                "ClearHeight": m.length(spec.INNER_TOP_Z - spec.INNER_BOTTOM_Z),
                "OffsetSouthEdge": comp.y0,
                "OffsetNorthEdge": comp.y1,
            },
        )
        s.compartments[comp.key] = part
        s.fire[comp.key] = []
        for i, (a, b) in enumerate(spec.fire_ranges(comp)):
            fc = _part(m, fire_name(comp.key, i), "FireCompartment", part.ObjectPlacement)
            fc.LongName = f"{comp.name} fire compartment {i + 1}"
            m.pset(
                [fc],
                "Pset_CimFireCompartment",
                {
                    "ChainageStart": a,
                    "ChainageEnd": b,
                    "Length": m.length(b - a),
                    "CompartmentKey": comp.key,
                },
            )
            s.fire[comp.key].append(fc)
        m.aggregate(part, s.fire[comp.key])
    m.aggregate(facility, list(s.compartments.values()))
    return s


def _part(m: Model, name: str, object_type: str, rel_to: Entity) -> Entity:
    part = m.product("IfcFacilityPartCommon", name, "USERDEFINED", ObjectType=object_type)
    part.UsageType = "LONGITUDINAL"
    part.CompositionType = "PARTIAL"
    part.ObjectPlacement = m.local_placement(0, 0, 0, rel_to)
    return part


def build_structure(m: Model, s: Spatial) -> list[Entity]:
    """Walls and slabs per 50 m segment, contained in the facility. Returns the roof slabs in chainage order."""
    concrete = m.material("C40 P8 reinforced concrete", "concrete")
    wall_type = m.element_type("IfcWallType", "Cast-in-place tunnel wall 300", "SOLIDWALL")
    floor_type = m.element_type("IfcSlabType", "Cast-in-place tunnel floor slab 300", "FLOOR")
    roof_type = m.element_type("IfcSlabType", "Cast-in-place tunnel roof slab 300", "ROOF")
    for t in (wall_type, floor_type, roof_type):
        ifcopenshell.api.material.assign_material(m.f, products=[t], material=concrete)
    walls_y = [
        (-spec.HALF_WIDTH, -spec.HALF_WIDTH + spec.WALL, "south outer wall"),
        *[(a, b, f"partition {i + 1}") for i, (a, b) in enumerate(spec.PARTITIONS_Y)],
        (spec.HALF_WIDTH - spec.WALL, spec.HALF_WIDTH, "north outer wall"),
    ]
    walls, slabs = [], []
    n_seg = int(spec.LENGTH // spec.SEGMENT)
    for k in range(n_seg):
        x0 = k * spec.SEGMENT
        tag = spec.chainage_label(x0)
        for j, (y0, y1, label) in enumerate(walls_y):
            wall = m.product("IfcWall", f"Segment {k + 1:02d} {label}", "SOLIDWALL", Tag=f"ST-{k + 1:02d}-W{j + 1}")
            h = spec.INNER_TOP_Z - spec.INNER_BOTTOM_Z
            wall.ObjectPlacement = m.local_placement(x0, 0.0, spec.INNER_BOTTOM_Z, s.facility.ObjectPlacement)
            wall.Representation = m.shape([m.box(spec.SEGMENT, y1 - y0, h, spec.SEGMENT / 2, (y0 + y1) / 2)])
            wall.Description = f"{tag} .. {spec.SEGMENT:.0f} m"
            walls.append(wall)
        for z0, label, ptype in ((spec.BOTTOM_Z, "floor slab", "FLOOR"), (spec.INNER_TOP_Z, "roof slab", "ROOF")):
            slab = m.product("IfcSlab", f"Segment {k + 1:02d} {label}", ptype, Tag=f"ST-{k + 1:02d}-{ptype[0]}")
            slab.ObjectPlacement = m.local_placement(x0, 0.0, z0, s.facility.ObjectPlacement)
            slab.Representation = m.shape([m.box(spec.SEGMENT, 2 * spec.HALF_WIDTH, spec.WALL, spec.SEGMENT / 2)])
            slabs.append(slab)
    m.assign_type(wall_type, walls)
    roofs = [slab for slab in slabs if slab.PredefinedType == "ROOF"]
    floors = [slab for slab in slabs if slab.PredefinedType == "FLOOR"]
    m.assign_type(floor_type, floors)
    m.assign_type(roof_type, roofs)
    m.pset(
        walls + slabs,
        "Pset_CimHandover",
        {
            "Owner": spec.TUNNEL_OWNER.name,
            "Operator": spec.TUNNEL_OPERATOR.name,
            "InstallationDate": m.date("2024-06-30"),
            "ExpectedLifeYears": 100,
        },
    )
    for el in walls + slabs:
        s.contain(s.facility, el)
    return roofs

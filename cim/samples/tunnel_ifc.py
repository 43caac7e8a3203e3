"""IFC plumbing for the tunnel generator: deterministic ids, project set-up, georeferencing, alignment, helpers.

Determinism: ``ifcopenshell.guid.new`` is swapped for a counter-based uuid5 while the model is built, every
named product gets a GlobalId derived from its name, and the header carries ``layout.TIMESTAMP``.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import ifcopenshell
import ifcopenshell.api.alignment
import ifcopenshell.api.context
import ifcopenshell.api.geometry
import ifcopenshell.api.material
import ifcopenshell.api.project
import ifcopenshell.api.root
import ifcopenshell.api.unit
import ifcopenshell.guid
import ifcopenshell.util.pset

from cim.samples import layout
from cim.samples import tunnel_spec as spec

SCHEMA = "IFC4X3_ADD2"
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://cim.example/samples/utility-tunnel")
_TEMPLATE = ifcopenshell.util.pset.get_template("IFC4X3")
Entity = ifcopenshell.entity_instance


def stable_guid(name: str) -> str:
    """A compressed IFC GlobalId that depends only on ``name``."""
    return ifcopenshell.guid.compress(uuid.uuid5(_NAMESPACE, name).hex)


@contextlib.contextmanager
def deterministic_guids() -> Iterator[None]:
    """Make every api-created GlobalId a function of creation order, restoring the real generator after."""
    original = ifcopenshell.guid.new
    counter = iter(range(1, 10**9))
    ifcopenshell.guid.new = lambda: stable_guid(f"auto/{next(counter)}")
    try:
        yield
    finally:
        ifcopenshell.guid.new = original


class Model:
    """The file plus the handles every generator needs (contexts, alignment curve, shared directions)."""

    def __init__(self) -> None:
        self.f = ifcopenshell.api.project.create_file(version=SCHEMA)
        self._set_header()
        self.project = ifcopenshell.api.root.create_entity(self.f, ifc_class="IfcProject", name="Binhai Utility Tunnel")
        self.project.GlobalId = stable_guid("project")
        ifcopenshell.api.unit.assign_unit(self.f, length={"is_metric": True, "raw": "METERS"})
        extra = [
            ifcopenshell.api.unit.add_si_unit(self.f, unit_type=unit_type)
            for unit_type in ("PLANEANGLEUNIT", "PRESSUREUNIT", "ELECTRICVOLTAGEUNIT", "THERMODYNAMICTEMPERATUREUNIT")
        ]
        ifcopenshell.api.unit.assign_unit(self.f, units=extra)
        model = ifcopenshell.api.context.add_context(self.f, context_type="Model")
        self.model_context = model
        self.body = ifcopenshell.api.context.add_context(
            self.f, context_type="Model", context_identifier="Body", target_view="MODEL_VIEW", parent=model
        )
        self._georeference(model)
        self.x_axis = self.f.createIfcDirection((1.0, 0.0, 0.0))
        self.y_axis = self.f.createIfcDirection((0.0, 1.0, 0.0))
        self.z_axis = self.f.createIfcDirection((0.0, 0.0, 1.0))
        self.alignment, self.curve = self._alignment()

    def _set_header(self) -> None:
        header = self.f.header.file_name
        header.name = "utility_tunnel.ifc"
        header.time_stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(layout.TIMESTAMP))
        header.author = (layout.AUTHOR,)
        header.organization = (layout.ORGANIZATION,)

    def _georeference(self, context: Entity) -> None:
        """False origin at K0+000 on the tunnel axis; local x = east, y = north, z = height."""
        crs = self.f.createIfcProjectedCRS(
            Name=layout.CITY_CRS,
            Description="CGCS2000 / 3-degree Gauss-Kruger CM 120E",
            GeodeticDatum="CGCS2000",
            VerticalDatum=layout.HEIGHT_DATUM,
            MapUnit=next(u for u in self.f.by_type("IfcSIUnit") if u.UnitType == "LENGTHUNIT"),
        )
        self.f.createIfcMapConversion(
            SourceCRS=context,
            TargetCRS=crs,
            Eastings=layout.TUNNEL_E0,
            Northings=layout.TUNNEL_AXIS_N,
            OrthogonalHeight=0.0,
            XAxisAbscissa=1.0,
            XAxisOrdinate=0.0,
            Scale=1.0,
        )

    def _alignment(self) -> tuple[Entity, Entity]:
        """IfcAlignment K0+000..K1+000: one horizontal line, a level vertical profile on the mid-height axis."""
        al = ifcopenshell.api.alignment
        alignment = al.create(self.f, "Binhai Avenue utility tunnel axis", include_vertical=True)
        al.layout_horizontal_alignment_by_pi_method(
            self.f, al.get_horizontal_layout(alignment), [(0.0, 0.0), (spec.LENGTH, 0.0)], []
        )
        mid_z = (spec.TOP_Z + spec.BOTTOM_Z) / 2
        al.layout_vertical_alignment_by_pi_method(
            self.f, al.get_vertical_layout(alignment), [(0.0, mid_z), (spec.LENGTH, mid_z)], []
        )
        al.add_stationing_referent(self.f, "K0+000", alignment, 0.0, 0.0)
        alignment.GlobalId = stable_guid("alignment")
        alignment.Description = "Tunnel centreline at mid-height; DistanceAlong = chainage in metres"
        return alignment, al.get_curve(alignment)

    def aggregate(self, parent: Entity, children: Sequence[Entity]) -> Entity:
        """IfcRelAggregates written directly: the api would re-derive placements in set order."""
        return self.f.createIfcRelAggregates(ifcopenshell.guid.new(), None, None, None, parent, list(children))

    def contain(self, container: Entity, elements: Sequence[Entity]) -> Entity:
        """IfcRelContainedInSpatialStructure written directly (placements are already relative to the facility)."""
        return self.f.createIfcRelContainedInSpatialStructure(
            ifcopenshell.guid.new(), None, None, None, list(elements), container
        )

    def assign_type(self, element_type: Entity, occurrences: Sequence[Entity]) -> None:
        """IfcRelDefinesByType plus mapped bodies, in list order (the api maps them in set order)."""
        if not occurrences:
            return
        if element_type.Types:  # one relationship per type (IFC allows at most one)
            rel = element_type.Types[0]
            rel.RelatedObjects = list(rel.RelatedObjects) + list(occurrences)
        else:
            self.f.createIfcRelDefinesByType(ifcopenshell.guid.new(), None, None, None, list(occurrences), element_type)
        maps = element_type.RepresentationMaps or ()
        if not maps:
            return
        origin = self.f.createIfcCartesianTransformationOperator3D(
            None, None, self.f.createIfcCartesianPoint((0.0, 0.0, 0.0)), 1.0, None
        )
        for occ in occurrences:
            items = [self.f.createIfcMappedItem(rep_map, origin) for rep_map in maps]
            rep = self.f.createIfcShapeRepresentation(self.body, "Body", "MappedRepresentation", items)
            occ.Representation = self.f.createIfcProductDefinitionShape(None, None, [rep])

    def material(self, name: str, category: str) -> Entity:
        """One IfcMaterial per name."""
        for mat in self.f.by_type("IfcMaterial"):
            if mat.Name == name:
                return mat
        return ifcopenshell.api.material.add_material(self.f, name=name, category=category)

    def sort_relationships(self) -> None:
        """The api keeps related objects in sets; sort them by id so the file is byte-identical (nests keep order)."""
        for unit_assignment in self.f.by_type("IfcUnitAssignment"):
            unit_assignment.Units = sorted(unit_assignment.Units, key=lambda e: e.id())
        for rel in self.f.by_type("IfcRelationship"):
            if rel.is_a("IfcRelNests") and not all(o.is_a("IfcDistributionPort") for o in rel.RelatedObjects):
                continue  # alignment layouts and segments are ordered lists
            for attr in ("RelatedObjects", "RelatedElements", "RelatedDefinitions"):
                value = getattr(rel, attr, None) if hasattr(rel, attr) else None
                if isinstance(value, tuple) and len(value) > 1:
                    setattr(rel, attr, sorted(value, key=lambda e: e.id()))

    # -- placements -------------------------------------------------------------------------------------------

    def local_placement(self, x: float, y: float, z: float, rel_to: Entity | None = None) -> Entity:
        loc = self.f.createIfcCartesianPoint((float(x), float(y), float(z)))
        return self.f.createIfcLocalPlacement(rel_to, self.f.createIfcAxis2Placement3D(loc, None, None))

    def linear_placement(self, chainage: float, y: float, z: float) -> Entity:
        """IfcLinearPlacement on the alignment's gradient curve, with the equivalent Cartesian fallback."""
        mid_z = (spec.TOP_Z + spec.BOTTOM_Z) / 2
        point = self.f.createIfcPointByDistanceExpression(
            self.f.createIfcLengthMeasure(float(chainage)), float(y), float(z - mid_z), None, self.curve
        )
        relative = self.f.createIfcAxis2PlacementLinear(point, None, None)
        fallback = self.f.createIfcAxis2Placement3D(
            self.f.createIfcCartesianPoint((float(chainage), float(y), float(z))), None, None
        )
        return self.f.createIfcLinearPlacement(None, relative, fallback)

    # -- geometry ---------------------------------------------------------------------------------------------

    def shape(self, items: Sequence[Entity], kind: str = "SweptSolid") -> Entity:
        rep = self.f.createIfcShapeRepresentation(self.body, "Body", kind, list(items))
        return self.f.createIfcProductDefinitionShape(None, None, [rep])

    def box(self, dx: float, dy: float, dz: float, cx: float = 0.0, cy: float = 0.0, cz: float = 0.0) -> Entity:
        """Axis-aligned box of size dx*dy*dz whose bottom-face centre is at (cx, cy, cz)."""
        profile = self.f.createIfcRectangleProfileDef("AREA", None, None, float(dx), float(dy))
        pos = self.f.createIfcAxis2Placement3D(self.f.createIfcCartesianPoint((float(cx), float(cy), float(cz))))
        return self.f.createIfcExtrudedAreaSolid(profile, pos, self.z_axis, float(dz))

    def tube_along_x(self, length: float, outer_d: float, wall: float | None = None) -> Entity:
        """A pipe (hollow) or cable (solid) body from x = 0 to x = length, centred on the placement's y/z."""
        if wall is None:
            profile = self.f.createIfcCircleProfileDef("AREA", None, None, outer_d / 2)
        else:
            profile = self.f.createIfcCircleHollowProfileDef("AREA", None, None, outer_d / 2, wall)
        origin = self.f.createIfcCartesianPoint((0.0, 0.0, 0.0))
        pos = self.f.createIfcAxis2Placement3D(origin, self.x_axis, self.y_axis)
        return self.f.createIfcExtrudedAreaSolid(profile, pos, self.z_axis, float(length))

    def product(self, ifc_class: str, name: str, predefined_type: str | None = None, **attrs: Any) -> Entity:
        """Create a rooted entity with a name-derived GlobalId."""
        el = ifcopenshell.api.root.create_entity(
            self.f, ifc_class=ifc_class, name=name, predefined_type=predefined_type
        )
        el.GlobalId = stable_guid(f"{ifc_class}/{name}")
        for key, value in attrs.items():
            setattr(el, key, value)
        return el

    def element_type(self, ifc_class: str, name: str, predefined_type: str, body: Entity | None = None) -> Entity:
        """An element type; with ``body`` it carries a representation map its occurrences will reuse."""
        t = self.product(ifc_class, name, predefined_type)
        if body is not None:
            rep = self.f.createIfcShapeRepresentation(self.body, "Body", "SweptSolid", [body])
            ifcopenshell.api.geometry.assign_representation(self.f, product=t, representation=rep)
        return t

    # -- properties -------------------------------------------------------------------------------------------

    def pset(self, products: Sequence[Entity], name: str, props: dict[str, Any]) -> Entity | None:
        """One property set shared by ``products``; types come from the IFC4X3 template or the Python value."""
        products = [p for p in products if p is not None]
        if not products:
            return None
        template = _TEMPLATE.get_by_name(name)
        measures = {t.Name: t.PrimaryMeasureType for t in template.HasPropertyTemplates} if template else {}
        values = []
        for key, value in props.items():
            if value is None:
                continue
            values.append(self.f.createIfcPropertySingleValue(key, None, self._value(value, measures.get(key)), None))
        pset = self.f.createIfcPropertySet(ifcopenshell.guid.new(), None, name, None, values)
        types = [p for p in products if p.is_a("IfcTypeObject")]
        for t in types:  # types hold their psets directly
            t.HasPropertySets = [*(t.HasPropertySets or ()), pset]
        occurrences = [p for p in products if not p.is_a("IfcTypeObject")]
        if occurrences:
            self.f.createIfcRelDefinesByProperties(ifcopenshell.guid.new(), None, None, None, occurrences, pset)
        return pset

    def _value(self, value: Any, measure: str | None) -> Entity:
        if isinstance(value, Entity):
            return value
        if measure and not measure.endswith("Reference"):
            return self.f.create_entity(measure, value)
        if isinstance(value, bool):
            return self.f.createIfcBoolean(value)
        if isinstance(value, int):
            return self.f.createIfcInteger(value)
        if isinstance(value, float):
            return self.f.createIfcReal(value)
        return self.f.createIfcLabel(str(value))

    def length(self, value: float) -> Entity:
        return self.f.createIfcPositiveLengthMeasure(float(value))

    def date(self, value: str) -> Entity:
        return self.f.createIfcDate(value)

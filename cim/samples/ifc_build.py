"""Low-level helpers shared by the sample IFC generators: file set-up, georeferencing, boxes, determinism.

Geometry is written directly as extruded rectangles and circles (fast, exact, easy to reason about for
clash and footprint checks); rooted entities and relationships go through ``ifcopenshell.api`` so the
models look like what real authoring tools write.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import ifcopenshell
import ifcopenshell.api.aggregate
import ifcopenshell.api.context
import ifcopenshell.api.georeference
import ifcopenshell.api.material
import ifcopenshell.api.owner
import ifcopenshell.api.project
import ifcopenshell.api.pset
import ifcopenshell.api.root
import ifcopenshell.api.unit
import ifcopenshell.guid
from pyproj import Transformer

from cim.samples import layout

# Namespace for GlobalIds: uuid5(NAMESPACE, "<model_id>/<step id>") makes every regeneration identical.
GUID_NAMESPACE = uuid.UUID("6f1c2b0e-4d0a-5b7e-9a51-0c1d2e3f4a5b")
ORIGINATING_SYSTEM = "cim sample city generator"
_TO_LATLON = Transformer.from_crs(layout.CITY_CRS, "EPSG:4490", always_xy=True)

Entity = ifcopenshell.entity_instance


@dataclass
class Model:
    """One IFC file being built, with the handles every helper needs."""

    f: ifcopenshell.file
    per_metre: float  # model length units per metre (1 or 1000)
    body: Entity
    project: Entity
    site: Entity
    building: Entity
    materials: dict[str, Entity] = field(default_factory=dict)
    _history: Entity | None = None

    def L(self, metres: float) -> float:  # noqa: N802
        """Metres to model length units (the mm model multiplies by 1000)."""
        return float(metres) * self.per_metre


def new_model(schema: str, project_name: str, site_name: str, building_name: str, *, millimetres: bool = False,
              ) -> Model:
    """Create a project with units, a Body context and the site > building spatial tree."""
    f = ifcopenshell.api.project.create_file(version=schema)
    history: Entity | None = None
    if schema == "IFC2X3":
        history = _owner_history(f)
    with shared_owner_history(history):
        project = _create(f, history, "IfcProject", project_name)
        if millimetres:
            length = ifcopenshell.api.unit.add_si_unit(f, unit_type="LENGTHUNIT", prefix="MILLI")
        else:
            length = ifcopenshell.api.unit.add_si_unit(f, unit_type="LENGTHUNIT")
        area = ifcopenshell.api.unit.add_si_unit(f, unit_type="AREAUNIT")
        volume = ifcopenshell.api.unit.add_si_unit(f, unit_type="VOLUMEUNIT")
        angle = ifcopenshell.api.unit.add_si_unit(f, unit_type="PLANEANGLEUNIT")
        # Written directly: the API's assign_unit orders the units through a set (not reproducible).
        project.UnitsInContext = f.create_entity("IfcUnitAssignment", Units=[length, area, volume, angle])
        model_ctx = ifcopenshell.api.context.add_context(f, context_type="Model")
        body = ifcopenshell.api.context.add_context(f, context_type="Model", context_identifier="Body",
                                                    target_view="MODEL_VIEW", parent=model_ctx)
        site = _create(f, history, "IfcSite", site_name)
        building = _create(f, history, "IfcBuilding", building_name)
        m = Model(f=f, per_metre=1000.0 if millimetres else 1.0, body=body, project=project, site=site,
                  building=building, _history=history)
        site.ObjectPlacement = placement(m, 0, 0, 0)
        building.ObjectPlacement = placement(m, 0, 0, 0, relative_to=site.ObjectPlacement)
        ifcopenshell.api.aggregate.assign_object(f, products=[site], relating_object=project)
        ifcopenshell.api.aggregate.assign_object(f, products=[building], relating_object=site)
    return m


def _owner_history(f: ifcopenshell.file) -> Entity:
    """IFC2X3 requires an IfcOwnerHistory on every rooted entity: one shared record with fixed dates."""
    person = f.create_entity("IfcPerson", Id="cim", FamilyName="Generator", GivenName="Sample")
    org = f.create_entity("IfcOrganization", Id="BNC", Name=layout.ORGANIZATION)
    user = f.create_entity("IfcPersonAndOrganization", ThePerson=person, TheOrganization=org)
    app = f.create_entity("IfcApplication", ApplicationDeveloper=org, Version="1.0",
                          ApplicationFullName=ORIGINATING_SYSTEM, ApplicationIdentifier="cim-samples")
    return f.create_entity("IfcOwnerHistory", OwningUser=user, OwningApplication=app, State="READWRITE",
                           ChangeAction="ADDED", LastModifiedDate=layout.TIMESTAMP, LastModifyingUser=user,
                           LastModifyingApplication=app, CreationDate=layout.TIMESTAMP)


def _create(f: ifcopenshell.file, history: Entity | None, ifc_class: str, name: str | None,
            predefined: str | None = None) -> Entity:
    with shared_owner_history(history):
        return ifcopenshell.api.root.create_entity(f, ifc_class=ifc_class, name=name, predefined_type=predefined)


@contextmanager
def shared_owner_history(history: Entity | None) -> Iterator[None]:
    """IFC2X3 wants an IfcOwnerHistory on every rooted entity; the API would stamp each with the clock.

    While active, every API call reuses ``history`` (fixed dates), which keeps regeneration byte-identical.
    """
    if history is None:
        yield
        return
    owner = ifcopenshell.api.owner
    saved = owner.create_owner_history, owner.update_owner_history
    owner.create_owner_history = lambda _f: history
    owner.update_owner_history = lambda _f, element=None: None
    try:
        yield
    finally:
        owner.create_owner_history, owner.update_owner_history = saved


def create(m: Model, ifc_class: str, name: str | None, *, predefined: str | None = None,
           place: Entity | None = None, items: list[Entity] | None = None) -> Entity:
    """A rooted product with its placement and an optional Body representation made of ``items``."""
    element = _create(m.f, m._history, ifc_class, name, predefined)
    if place is not None:
        element.ObjectPlacement = place
    if items:
        rep = m.f.create_entity("IfcShapeRepresentation", ContextOfItems=m.body, RepresentationIdentifier="Body",
                                RepresentationType="SweptSolid", Items=items)
        element.Representation = m.f.create_entity("IfcProductDefinitionShape", Representations=[rep])
    return element


def create_plain(m: Model, ifc_class: str, name: str | None, **attrs: Any) -> Entity:
    """A rooted non-product (e.g. a distribution system) with the owner-history rules applied."""
    element = _create(m.f, m._history, ifc_class, name)
    for key, value in attrs.items():
        setattr(element, key, value)
    return element


def _point(f: ifcopenshell.file, *xyz: float) -> Entity:
    return f.create_entity("IfcCartesianPoint", Coordinates=[float(v) for v in xyz])


def _axis3d(m: Model, x: float, y: float, z: float, *, z_dir: tuple[float, float, float] | None = None,
            x_dir: tuple[float, float, float] | None = None) -> Entity:
    f = m.f
    return f.create_entity(
        "IfcAxis2Placement3D", Location=_point(f, m.L(x), m.L(y), m.L(z)),
        Axis=f.create_entity("IfcDirection", DirectionRatios=list(z_dir)) if z_dir else None,
        RefDirection=f.create_entity("IfcDirection", DirectionRatios=list(x_dir)) if x_dir else None)


def placement(m: Model, x: float, y: float, z: float, *, relative_to: Entity | None = None,
              angle_deg: float = 0.0) -> Entity:
    """IfcLocalPlacement at (x, y, z) metres, turned by ``angle_deg`` about +Z."""
    x_dir = None
    if angle_deg:
        a = math.radians(angle_deg)
        x_dir = (round(math.cos(a), 12), round(math.sin(a), 12), 0.0)
    return m.f.create_entity("IfcLocalPlacement", PlacementRelTo=relative_to,
                             RelativePlacement=_axis3d(m, x, y, z, z_dir=(0.0, 0.0, 1.0) if x_dir else None,
                                                       x_dir=x_dir))


def box(m: Model, dx: float, dy: float, dz: float, x0: float = 0.0, y0: float = 0.0, z0: float = 0.0) -> Entity:
    """Extruded rectangle occupying [x0, x0+dx] x [y0, y0+dy] x [z0, z0+dz] in the element's placement."""
    f = m.f
    profile = f.create_entity(
        "IfcRectangleProfileDef", ProfileType="AREA", XDim=m.L(dx), YDim=m.L(dy),
        Position=f.create_entity("IfcAxis2Placement2D", Location=f.create_entity(
            "IfcCartesianPoint", Coordinates=[m.L(x0 + dx / 2), m.L(y0 + dy / 2)])))
    return f.create_entity("IfcExtrudedAreaSolid", SweptArea=profile, Position=_axis3d(m, 0, 0, z0),
                           ExtrudedDirection=f.create_entity("IfcDirection", DirectionRatios=[0.0, 0.0, 1.0]),
                           Depth=m.L(dz))


def cylinder(m: Model, start: tuple[float, float, float], axis: str, length: float, radius: float) -> Entity:
    """Round pipe body starting at ``start`` (metres) and running along +x, +y or +z for ``length`` metres."""
    f = m.f
    z_dir = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0)}[axis]
    x_dir = {"x": (0.0, 1.0, 0.0), "y": (0.0, 0.0, 1.0), "z": (1.0, 0.0, 0.0)}[axis]
    centre = f.create_entity("IfcAxis2Placement2D", Location=f.create_entity("IfcCartesianPoint",
                                                                            Coordinates=[0.0, 0.0]))
    profile = f.create_entity("IfcCircleProfileDef", ProfileType="AREA", Radius=m.L(radius), Position=centre)
    return f.create_entity("IfcExtrudedAreaSolid", SweptArea=profile,
                           Position=_axis3d(m, *start, z_dir=z_dir, x_dir=x_dir),
                           ExtrudedDirection=f.create_entity("IfcDirection", DirectionRatios=[0.0, 0.0, 1.0]),
                           Depth=m.L(length))


def rect_duct(m: Model, start: tuple[float, float, float], axis: str, length: float, width: float,
              height: float) -> Entity:
    """Rectangular duct of ``width`` x ``height`` whose bottom centre line starts at ``start``."""
    x, y, z = start
    if axis == "x":
        return box(m, length, width, height, x, y - width / 2, z)
    return box(m, width, length, height, x - width / 2, y, z)


def material(m: Model, name: str, category: str) -> Entity:
    """One IfcMaterial per name and file."""
    if name not in m.materials:
        mat = ifcopenshell.api.material.add_material(m.f, name=name)
        if m.f.schema != "IFC2X3":
            mat.Category = category
        m.materials[name] = mat
    return m.materials[name]


def assign_material(m: Model, products: list[Entity], name: str, category: str) -> None:
    """One IfcRelAssociatesMaterial for all ``products``, written directly: the API collects products in a set,
    whose order changes from run to run and would break byte-identical regeneration."""
    if products:
        m.f.create_entity("IfcRelAssociatesMaterial", GlobalId=ifcopenshell.guid.new(), OwnerHistory=m._history,
                          RelatedObjects=list(products), RelatingMaterial=material(m, name, category))


def aggregate(m: Model, parent: Entity, children: list[Entity]) -> Entity:
    """IfcRelAggregates in the given order (the API's set would shuffle it between runs)."""
    return m.f.create_entity("IfcRelAggregates", GlobalId=ifcopenshell.guid.new(), OwnerHistory=m._history,
                             RelatingObject=parent, RelatedObjects=list(children))


def add_pset(m: Model, element: Entity, name: str, props: dict[str, Any]) -> Entity:
    pset = ifcopenshell.api.pset.add_pset(m.f, product=element, name=name)
    ifcopenshell.api.pset.edit_pset(m.f, pset=pset, properties=props)
    if m._history is not None:
        pset.OwnerHistory = m._history
    return pset


def add_qto(m: Model, element: Entity, name: str, quantities: dict[str, float]) -> Entity:
    """Base quantities in project units: lengths scaled to model units, areas in m2, volumes in m3."""
    f = m.f
    kinds = {"Length": "IfcQuantityLength", "Width": "IfcQuantityLength", "Height": "IfcQuantityLength",
             "Depth": "IfcQuantityLength", "Perimeter": "IfcQuantityLength", "Area": "IfcQuantityArea",
             "Volume": "IfcQuantityVolume"}
    props = []
    for key, value in quantities.items():
        kind = next(v for k, v in kinds.items() if key.endswith(k))
        attr = {"IfcQuantityLength": "LengthValue", "IfcQuantityArea": "AreaValue",
                "IfcQuantityVolume": "VolumeValue"}[kind]
        number = m.L(value) if kind == "IfcQuantityLength" else float(value)
        props.append(f.create_entity(kind, Name=key, **{attr: round(number, 6)}))
    qto = f.create_entity("IfcElementQuantity", GlobalId=ifcopenshell.guid.new(), OwnerHistory=m._history,
                          Name=name, MethodOfMeasurement="BaseQuantities", Quantities=props)
    f.create_entity("IfcRelDefinesByProperties", GlobalId=ifcopenshell.guid.new(), OwnerHistory=m._history,
                    RelatedObjects=[element], RelatingPropertyDefinition=qto)
    return qto


def georeference(m: Model, eastings: float, northings: float, rotation_deg: float = 0.0) -> None:
    """IfcMapConversion + IfcProjectedCRS (IFC4) or the ePSet_MapConversion / ePSet_ProjectedCRS pair (IFC2X3).

    The local origin lands on (eastings, northings, GROUND_Z); local +x points ``rotation_deg`` anticlockwise
    from grid east; Scale converts model length units to metres.
    """
    f = m.f
    a = math.radians(rotation_deg)
    abscissa, ordinate = round(math.cos(a), 12), round(math.sin(a), 12)
    scale = 1.0 / m.per_metre
    if f.schema == "IFC2X3":
        ifcopenshell.api.georeference.add_georeferencing(f, name=layout.CITY_CRS)
        project = m.project
        for pset_name, props in (
            ("ePSet_ProjectedCRS", {"Name": f.createIfcLabel(layout.CITY_CRS),
                                    "Description": f.createIfcText("CGCS2000 / 3-degree Gauss-Kruger CM 120E"),
                                    "GeodeticDatum": f.createIfcIdentifier("CGCS2000"),
                                    "VerticalDatum": f.createIfcIdentifier(layout.HEIGHT_DATUM),
                                    "MapProjection": f.createIfcIdentifier("Gauss-Kruger"),
                                    "MapZone": f.createIfcIdentifier("CM 120E"),
                                    "MapUnit": f.createIfcLabel("METRE")}),
            ("ePSet_MapConversion", {"Eastings": f.createIfcLengthMeasure(eastings),
                                     "Northings": f.createIfcLengthMeasure(northings),
                                     "OrthogonalHeight": f.createIfcLengthMeasure(layout.GROUND_Z),
                                     "XAxisAbscissa": f.createIfcReal(abscissa),
                                     "XAxisOrdinate": f.createIfcReal(ordinate),
                                     "Scale": f.createIfcReal(scale)}),
        ):
            pset = next(r.RelatingPropertyDefinition for r in project.IsDefinedBy
                        if r.RelatingPropertyDefinition.Name == pset_name)
            ifcopenshell.api.pset.edit_pset(f, pset=pset, properties=props)
        return
    ifcopenshell.api.georeference.add_georeferencing(f, ifc_class="IfcMapConversion", name=layout.CITY_CRS)
    metre = ifcopenshell.api.unit.add_si_unit(f, unit_type="LENGTHUNIT")
    ifcopenshell.api.georeference.edit_georeferencing(
        f,
        projected_crs={"Description": "CGCS2000 / 3-degree Gauss-Kruger CM 120E", "GeodeticDatum": "CGCS2000",
                       "VerticalDatum": layout.HEIGHT_DATUM, "MapProjection": "Gauss-Kruger",
                       "MapZone": "CM 120E", "MapUnit": metre},
        coordinate_operation={"Eastings": float(eastings), "Northings": float(northings),
                              "OrthogonalHeight": float(layout.GROUND_Z), "XAxisAbscissa": abscissa,
                              "XAxisOrdinate": ordinate, "Scale": scale})


def _dms(value: float) -> list[int]:
    """Decimal degrees to the IfcCompoundPlaneAngleMeasure (deg, min, sec, millionths of a second)."""
    sign = -1 if value < 0 else 1
    micro = round(abs(value) * 3600 * 1_000_000)
    deg, rest = divmod(micro, 3600 * 1_000_000)
    minutes, rest = divmod(rest, 60 * 1_000_000)
    sec, millionths = divmod(rest, 1_000_000)
    return [sign * deg, sign * minutes, sign * sec, sign * millionths]


def site_reference(m: Model, eastings: float, northings: float, offset_north_m: float = 0.0) -> tuple[float, float]:
    """Write IfcSite RefLatitude/RefLongitude/RefElevation for a map point (optionally shifted north on purpose)."""
    lon, lat = _TO_LATLON.transform(eastings, northings + offset_north_m)
    m.site.RefLatitude = _dms(lat)
    m.site.RefLongitude = _dms(lon)
    m.site.RefElevation = m.L(layout.GROUND_Z)
    return lat, lon


def finalise(m: Model, model_id: str, file_name: str, description: str) -> None:
    """Make the file byte-identical on every run: GlobalIds from the step ids, fixed header values."""
    f = m.f
    for element in f.by_type("IfcRoot"):
        if m._history is not None and element.OwnerHistory != m._history:
            element.OwnerHistory = m._history  # e.g. IfcRelFillsElement, which the API leaves without one
        element.GlobalId = ifcopenshell.guid.compress(uuid.uuid5(GUID_NAMESPACE, f"{model_id}/{element.id()}").hex)
    if m._history is not None:
        for history in f.by_type("IfcOwnerHistory"):
            if history != m._history:
                f.remove(history)
    stamp = datetime.fromtimestamp(layout.TIMESTAMP, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    header = f.header
    header.file_name.name = file_name
    header.file_name.time_stamp = stamp
    header.file_name.author = (layout.AUTHOR,)
    header.file_name.organization = (layout.ORGANIZATION,)
    header.file_name.preprocessor_version = f"IfcOpenShell {ifcopenshell.version}"
    header.file_name.originating_system = ORIGINATING_SYSTEM
    header.file_name.authorization = "none"
    header.file_description.description = ("ViewDefinition [DesignTransferView]", description)

"""Small IFC models built with ifcopenshell.api for tests: a georeferenced storey with a few elements."""

from __future__ import annotations

from pathlib import Path

import ifcopenshell
import ifcopenshell.api
import ifcopenshell.api.project
import numpy as np

CITY_E, CITY_N, CITY_H = 464_900.0, 2_865_800.0, 5.0


def new_model(schema: str = "IFC4", *, georef: bool = True, length_unit: str = "METRE",
              eastings: float = CITY_E, northings: float = CITY_N, height: float = CITY_H,
              rotation_deg: float = 0.0, scale: float | None = None) -> tuple[ifcopenshell.file, dict]:
    """A project with site, building and one storey, georeferenced to EPSG:4549 when asked."""
    run = ifcopenshell.api.run
    f = ifcopenshell.api.project.create_file(version=schema)
    if schema == "IFC2X3":
        _owner_history(f)
    project = run("root.create_entity", f, ifc_class="IfcProject", name="Test project")
    prefix = "MILLI" if length_unit == "MILLIMETRE" else None
    length = run("unit.add_si_unit", f, unit_type="LENGTHUNIT", prefix=prefix)
    area = run("unit.add_si_unit", f, unit_type="AREAUNIT")
    volume = run("unit.add_si_unit", f, unit_type="VOLUMEUNIT")
    run("unit.assign_unit", f, units=[length, area, volume])
    model_ctx = run("context.add_context", f, context_type="Model")
    body = run("context.add_context", f, context_type="Model", context_identifier="Body", target_view="MODEL_VIEW",
               parent=model_ctx)
    site = run("root.create_entity", f, ifc_class="IfcSite", name="Site")
    building = run("root.create_entity", f, ifc_class="IfcBuilding", name="Test building")
    storey = run("root.create_entity", f, ifc_class="IfcBuildingStorey", name="Ground floor")
    run("aggregate.assign_object", f, relating_object=project, products=[site])
    run("aggregate.assign_object", f, relating_object=site, products=[building])
    run("aggregate.assign_object", f, relating_object=building, products=[storey])
    for el in (site, building, storey):
        run("geometry.edit_object_placement", f, product=el)
    if georef:
        _georeference(f, schema, eastings, northings, height, rotation_deg, scale)
    return f, {"body": body, "storey": storey, "building": building, "site": site, "project": project}


def _owner_history(f: ifcopenshell.file) -> None:
    """IFC2X3 requires an owner history on every rooted entity."""
    import ifcopenshell.api.owner.settings as owner_settings

    run = ifcopenshell.api.run
    person = run("owner.add_person", f)
    org = run("owner.add_organisation", f)
    run("owner.add_person_and_organisation", f, person=person, organisation=org)
    run("owner.add_application", f)
    # Patched module-wide by ifcopenshell's design: return None for files without owners (IFC4 models built later).
    owner_settings.get_user = lambda ff: (ff.by_type("IfcPersonAndOrganization") or [None])[0]
    owner_settings.get_application = lambda ff: (ff.by_type("IfcApplication") or [None])[0]


def _georeference(f, schema, e, n, h, rotation_deg, scale) -> None:
    a, b = np.cos(np.radians(rotation_deg)), np.sin(np.radians(rotation_deg))
    if schema == "IFC2X3":
        project = f.by_type("IfcProject")[0]
        conv = ifcopenshell.api.run("pset.add_pset", f, product=project, name="ePSet_MapConversion")
        props = {"Eastings": e, "Northings": n, "OrthogonalHeight": h, "XAxisAbscissa": a, "XAxisOrdinate": b}
        if scale is not None:
            props["Scale"] = scale
        ifcopenshell.api.run("pset.edit_pset", f, pset=conv, properties=props)
        crs = ifcopenshell.api.run("pset.add_pset", f, product=project, name="ePSet_ProjectedCRS")
        ifcopenshell.api.run("pset.edit_pset", f, pset=crs, properties={"Name": "EPSG:4549"})
        return
    ifcopenshell.api.run("georeference.add_georeferencing", f)
    conv = {"Eastings": e, "Northings": n, "OrthogonalHeight": h, "XAxisAbscissa": float(a), "XAxisOrdinate": float(b)}
    if scale is not None:
        conv["Scale"] = scale
    ifcopenshell.api.run("georeference.edit_georeferencing", f, projected_crs={"Name": "EPSG:4549"},
                         coordinate_operation=conv)


def add_wall(f, ctx, *, name: str, start=(0.0, 0.0, 0.0), length=5.0, height=3.0, thickness=0.2,
             material: str | None = "Concrete"):
    """A straight wall from ``start`` along +x; sizes in metres whatever the model's unit."""
    run = ifcopenshell.api.run
    wall = run("root.create_entity", f, ifc_class="IfcWall", name=name)
    run("spatial.assign_container", f, relating_structure=ctx["storey"], products=[wall])
    rep = run("geometry.add_wall_representation", f, context=ctx["body"], length=length, height=height,
              thickness=thickness)
    run("geometry.assign_representation", f, product=wall, representation=rep)
    matrix = np.eye(4)
    matrix[:3, 3] = start
    run("geometry.edit_object_placement", f, product=wall, matrix=matrix, is_si=True)
    if material:
        mat = run("material.add_material", f, name=material)
        run("material.assign_material", f, products=[wall], material=mat)
    return wall


def write(f: ifcopenshell.file, path: Path) -> Path:
    f.write(str(path))
    return path


def place(f, product, at, z_axis=None, x_axis=None) -> None:
    """Place ``product`` at ``at`` (metres) with its local z and x along the given axes (default: the model's)."""
    x = np.asarray((1.0, 0.0, 0.0) if x_axis is None else x_axis, float)
    z = np.asarray((0.0, 0.0, 1.0) if z_axis is None else z_axis, float)
    matrix = np.eye(4)
    matrix[:3, 0], matrix[:3, 1], matrix[:3, 2] = x, np.cross(z, x), z
    matrix[:3, 3] = at
    ifcopenshell.api.run("geometry.edit_object_placement", f, product=product, matrix=matrix, is_si=True)


def add_element(f, ctx, ifc_class: str, name: str, rep, at, *, container: bool = True,
                predefined_type: str | None = None, **axes):
    """A product on the storey (spaces aggregated, others contained) with ``rep`` as its body, placed at ``at``."""
    run = ifcopenshell.api.run
    el = run("root.create_entity", f, ifc_class=ifc_class, name=name, predefined_type=predefined_type)
    if container and ifc_class == "IfcSpace":
        run("aggregate.assign_object", f, relating_object=ctx["storey"], products=[el])
    elif container:
        run("spatial.assign_container", f, relating_structure=ctx["storey"], products=[el])
    if rep is not None:
        run("geometry.assign_representation", f, product=el, representation=rep)
    place(f, el, at, **axes)
    return el


def add_box(f, ctx, ifc_class: str, *, name: str, corner=(0.0, 0.0, 0.0), size=(1.0, 1.0, 1.0),
            predefined_type: str | None = None, container: bool = True):
    """An axis-aligned box with its lower corner at ``corner`` (metres, model frame)."""
    sx, sy, sz = size
    pos = f.createIfcAxis2Placement2D(f.createIfcCartesianPoint((sx / 2, sy / 2)))
    profile = f.createIfcRectangleProfileDef("AREA", None, pos, sx, sy)
    rep = ifcopenshell.api.run("geometry.add_profile_representation", f, context=ctx["body"], profile=profile,
                               depth=sz)
    return add_element(f, ctx, ifc_class, name, rep, corner, container=container, predefined_type=predefined_type)


def add_pipe(f, ctx, *, name: str, start, direction=(1.0, 0.0, 0.0), length=4.0, diameter=0.1,
             ifc_class: str = "IfcPipeSegment", system: str | None = None):
    """A round pipe from ``start`` along ``direction`` (a unit axis), optionally in a named system."""
    run = ifcopenshell.api.run
    profile = f.createIfcCircleProfileDef("AREA", None, None, diameter / 2)
    rep = run("geometry.add_profile_representation", f, context=ctx["body"], profile=profile, depth=length)
    d = np.asarray(direction, float)
    el = add_element(f, ctx, ifc_class, name, rep, start, z_axis=d,
                     x_axis=(0.0, 0.0, 1.0) if abs(d[2]) < 0.9 else (1.0, 0.0, 0.0))
    if system:
        systems = {s.Name: s for s in f.by_type("IfcDistributionSystem")}
        sys_ = systems.get(system) or run("system.add_system", f, ifc_class="IfcDistributionSystem")
        sys_.Name = system
        run("system.assign_system", f, products=[el], system=sys_)
    return el


def add_door_in_opening(f, ctx, wall, *, corner, size=(0.9, 0.2, 2.1), gap=0.005):
    """An opening through ``wall`` with a door filling it (5 mm gaps all round)."""
    run = ifcopenshell.api.run
    opening = add_box(f, ctx, "IfcOpeningElement", name="Opening", corner=corner, size=size, container=False)
    run("feature.add_feature", f, feature=opening, element=wall)
    cx, cy, cz = corner
    door = add_box(f, ctx, "IfcDoor", name="Door", corner=(cx + gap, cy + gap, cz + gap),
                   size=(size[0] - 2 * gap, size[1] - 2 * gap, size[2] - 2 * gap))
    run("feature.add_filling", f, opening=opening, element=door)
    return door


def one_wall_store(tmp_path: Path, file_name: str = "good.ifc"):
    """A store that already holds one good model (a wall, model id the file's stem), so 'nothing stored
    changes' can be checked."""
    from cim.config import default_config
    from cim.ingest.run import ingest_file
    from cim.store import Store

    store = Store(tmp_path / "store", "EPSG:4549")
    f, ctx = new_model()
    add_wall(f, ctx, name="W1")
    ingest_file(store, default_config("EPSG:4549"), write(f, tmp_path / file_name))
    return store

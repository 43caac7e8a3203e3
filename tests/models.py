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
    owner_settings.get_user = lambda ff: ff.by_type("IfcPersonAndOrganization")[0]
    owner_settings.get_application = lambda ff: ff.by_type("IfcApplication")[0]


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

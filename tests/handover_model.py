"""A small two-storey building for handover tests (COBie, the estimators' workbook), built with ifcopenshell.api.

Ground floor: a space, a typed pump in it (system "Chilled water", Uniclass reference), a concrete wall.
Level 1 (elevation 3 m): a space, an untyped sensor, a brick wall. A zone holds both spaces; the facility
manager's organisation carries an e-mail address.
"""

from __future__ import annotations

from pathlib import Path

import ifcopenshell.api

from tests.models import add_box, add_wall, new_model, place, write

EMAIL = "fm@binhai.example"
PUMP, SENSOR = "CHW pump P-01", "Level 1 temperature sensor"


def build(path: Path) -> Path:
    run = ifcopenshell.api.run
    f, ctx = new_model()
    upper = run("root.create_entity", f, ifc_class="IfcBuildingStorey", name="Level 1")
    upper.Elevation = 3.0
    run("aggregate.assign_object", f, relating_object=ctx["building"], products=[upper])
    place(f, upper, (0.0, 0.0, 3.0))
    up = {**ctx, "storey": upper}

    add_wall(f, ctx, name="Ground wall", start=(0.0, 0.0, 0.0), length=6.0, material="Concrete C30")
    add_wall(f, up, name="Upper wall", start=(0.0, 0.0, 3.0), length=6.0, material="Brick")
    room0 = add_box(f, ctx, "IfcSpace", name="G-01", corner=(0.0, 0.5, 0.0), size=(6.0, 4.0, 3.0))
    room1 = add_box(f, up, "IfcSpace", name="L1-01", corner=(0.0, 0.5, 3.0), size=(6.0, 4.0, 3.0))

    pump = add_box(f, ctx, "IfcPump", name=PUMP, corner=(1.0, 1.0, 0.0), size=(0.5, 0.5, 0.8))
    pump_type = run("root.create_entity", f, ifc_class="IfcPumpType", name="End-suction pump 5 kW")
    run("type.assign_type", f, related_objects=[pump], relating_type=pump_type)
    pset = run("pset.add_pset", f, product=pump_type, name="Pset_ManufacturerTypeInformation")
    run("pset.edit_pset", f, pset=pset, properties={"Manufacturer": "Grundfos (demo)", "ModelReference": "NB 5"})
    occ = run("pset.add_pset", f, product=pump, name="Pset_ManufacturerOccurrence")
    run("pset.edit_pset", f, pset=occ, properties={"SerialNumber": "SN-0001"})
    system = run("system.add_system", f, ifc_class="IfcDistributionSystem")
    system.Name = "Chilled water"
    run("system.assign_system", f, products=[pump], system=system)
    uniclass = run("classification.add_classification", f, classification="Uniclass 2015")
    run("classification.add_reference", f, products=[pump], identification="Pr_65_53_68",
        name="Centrifugal pumps", classification=uniclass)
    steel = run("material.add_material", f, name="Cast iron")
    run("material.assign_material", f, products=[pump], material=steel)

    manual = run("document.add_information", f)
    run("document.edit_information", f, information=manual, attributes={
        "Identification": "OM-P01", "Name": "Pump P-01 O&M manual", "Location": "manuals/pump_p01.pdf"})
    reference = run("document.add_reference", f, information=manual)
    run("document.edit_reference", f, reference=reference, attributes={"Location": "manuals/pump_p01.pdf"})
    run("document.assign_document", f, products=[pump], document=reference)

    add_box(f, up, "IfcSensor", name=SENSOR, corner=(2.0, 2.0, 5.5), size=(0.1, 0.1, 0.1))

    zone = run("root.create_entity", f, ifc_class="IfcZone", name="Teaching zone")
    run("group.assign_group", f, products=[room0, room1], group=zone)
    org = run("owner.add_organisation", f)
    org.Identification, org.Name = "BFM", "Binhai Facility Management (demo)"
    address = run("owner.add_address", f, assigned_object=org, ifc_class="IfcTelecomAddress")
    run("owner.edit_address", f, address=address, attributes={"ElectronicMailAddresses": [EMAIL]})
    run("owner.add_actor", f, actor=org)
    return write(f, path)

"""The four IFC4 buildings of the demo city: one per parcel, inside its setback line and under its height limit."""

from __future__ import annotations

from pathlib import Path

from cim.samples import building_ifc
from cim.samples.grid_building import BuildingSpec, Clash

BLOCK_A = BuildingSpec(
    model_id="block-a", file_name="buildings/block_a.ifc", title="Residential Block A", parcel_id="BH-01",
    use="residential", phase="manage", origin_e=464_440.0, origin_n=2_865_760.0,
    nx=8, ny=2, bay_x=7.5, bay_y=7.0, storeys=6, storey_height=3.0,
    usages=("Apartment", "Apartment"), ground_usages=("Shop", "Bicycle store"),
    clashes=(Clash("duplicate-wall", 0), Clash("pipe-column", 2), Clash("duct-beam", 3)),
    description="6-storey residential slab block, metres",
)

SCHOOL = BuildingSpec(
    model_id="binhai-school", file_name="buildings/binhai_school.ifc", title="Binhai Experimental Primary School",
    parcel_id="BH-04", use="school", phase="manage", origin_e=464_945.0, origin_n=2_865_770.0,
    nx=8, ny=2, bay_x=7.2, bay_y=8.0, storeys=3, storey_height=3.9,
    usages=("Classroom", "Classroom"), ground_usages=("Classroom", "Canteen"),
    site_offset_north_m=120.0, clashes=(Clash("duct-beam", 1),),
    description="3-storey school; IfcSite RefLatitude deliberately about 120 m north of the map conversion",
)

OFFICE = BuildingSpec(
    model_id="haixia-office", file_name="buildings/haixia_office.ifc", title="Haixia Finance Office",
    parcel_id="BH-05", use="office", phase="build", origin_e=465_140.0, origin_n=2_865_760.0, rotation_deg=30.0,
    nx=6, ny=3, bay_x=6.0, bay_y=6.0, storeys=8, storey_height=3.8,
    usages=("Open-plan office", "Meeting room", "Open-plan office"), ground_usages=("Lobby", "Cafe", "Lobby"),
    clashes=(Clash("pipe-column", 4),),
    description="8-storey office on a grid turned 30 degrees from grid east",
)

COMMUNITY = BuildingSpec(
    model_id="community-centre", file_name="buildings/community_centre.ifc", title="Binhai Community Centre",
    parcel_id="BH-12", use="community", phase="plan", origin_e=464_620.0, origin_n=2_865_600.0, millimetres=True,
    nx=5, ny=2, bay_x=8.0, bay_y=8.0, storeys=2, storey_height=4.2,
    usages=("Multi-purpose hall", "Activity room"), ground_usages=("Reception", "Clinic"),
    clashes=(Clash("duplicate-wall", 1),),
    description="2-storey community centre modelled in millimetres (IfcMapConversion.Scale 0.001)",
)

IFC4_BUILDINGS: tuple[BuildingSpec, ...] = (BLOCK_A, SCHOOL, OFFICE, COMMUNITY)


def write_buildings(out_dir: Path) -> dict[str, list[dict[str, str]]]:
    """Write the IFC4 buildings under ``out_dir``; return the planted clashes per model_id."""
    return {spec.model_id: building_ifc.write(spec, out_dir / spec.file_name) for spec in IFC4_BUILDINGS}

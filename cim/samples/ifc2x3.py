"""The IFC2X3 building: georeferenced the IFC2X3 way, through ePSet_MapConversion / ePSet_ProjectedCRS on
IfcProject, with one shared IfcOwnerHistory carrying fixed dates (IFC2X3 requires it on rooted entities)."""

from __future__ import annotations

from pathlib import Path

from cim.samples import building_ifc
from cim.samples.grid_building import BuildingSpec, Clash

BLOCK_B = BuildingSpec(
    model_id="block-b-2x3", file_name="buildings/residential_block_b_ifc2x3.ifc", title="Residential Block B",
    parcel_id="BH-11", use="residential", phase="manage", origin_e=464_440.0, origin_n=2_865_600.0, schema="IFC2X3",
    nx=8, ny=2, bay_x=6.0, bay_y=6.0, storeys=5, storey_height=3.0,
    usages=("Apartment", "Apartment"), ground_usages=("Apartment", "Plant room"),
    clashes=(Clash("pipe-column", 1),),
    description="5-storey residential block exported as IFC2X3 with ePSet georeferencing",
)


def write_ifc2x3_building(out_dir: Path) -> dict[str, list[dict[str, str]]]:
    """Write the IFC2X3 building under ``out_dir``; return its planted clashes keyed by model_id."""
    return {BLOCK_B.model_id: building_ifc.write(BLOCK_B, out_dir / BLOCK_B.file_name)}

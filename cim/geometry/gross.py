"""Gross (unvoided) world meshes of hosts with openings, for quantity takeoff.

The stored meshes are net: the tessellator subtracted the openings. Gross quantities (a wall's side
area before its door is cut) need the body without those subtractions, so this is the one other
place that tessellates; it reuses the ingest's settings and the model version's own georeferencing.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from pathlib import Path

import ifcopenshell
import ifcopenshell.geom
import numpy as np

from cim.errors import GeometryError, InputError
from cim.geometry.mesh import merge_by_product
from cim.geometry.quiet import KernelOutput
from cim.geometry.tessellate import RawMesh, iter_shapes
from cim.geometry.tessellate import settings as net_settings
from cim.georef import Georef
from cim.ifc.identity import product_identity

log = logging.getLogger(__name__)


def gross_settings() -> ifcopenshell.geom.settings:
    """The ingest's tessellation settings with opening subtraction turned off."""
    s = net_settings()
    s.set("disable-opening-subtractions", True)
    return s


def georef_from_record(record: dict) -> Georef:
    """The Georef a model version was ingested with, rebuilt from ``models.georef`` (its as_record())."""
    place = record["placement"]
    fx, fy, fz = record.get("factors") or (1.0, 1.0, 1.0)
    site = record.get("site_reference")
    return Georef(
        level=int(record.get("level") or 0), method=str(record.get("method")), source_crs=record["source_crs"],
        city_crs=record["city_crs"], eastings=place["eastings"], northings=place["northings"],
        orthogonal_height=place["orthogonal_height"], x_axis_abscissa=place["x_axis_abscissa"],
        x_axis_ordinate=place["x_axis_ordinate"], scale=record["scale"], factor_x=fx, factor_y=fy, factor_z=fz,
        unit_scale=record["unit_scale"], map_unit_scale=record["map_unit_scale"],
        vertical_datum=record.get("vertical_datum"), site_reference=tuple(site) if site else None,
        site_offset_m=record.get("site_offset_m"), warnings=tuple(record.get("warnings") or ()),
    )


def open_model(path: str | Path) -> ifcopenshell.file:
    """Open the IFC the model was ingested from; a moved or deleted file is an InputError."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "the IFC file this model was ingested from is gone",
                         "pass ifc_path= to takeoff, or re-ingest the model from its new place")
    try:
        return ifcopenshell.open(str(path))
    except Exception as exc:  # ifcopenshell raises plain errors on unreadable files
        raise InputError(path, f"cannot open the IFC file: {exc}", "check the file is a valid IFC") from exc


def gross_meshes(model: ifcopenshell.file, georef: Georef,
                 global_ids: Iterable[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """World-space (city CRS) vertices (n, 3) and faces (m, 3) of the given products, openings not cut.

    Products that do not mesh are left out (the caller falls back to net + openings and flags it).
    """
    keys = product_identity(model).keys  # STEP id -> stored key (GlobalIds made unique, cim.ifc.identity)
    step_of = {key: step for step, key in keys.items()}
    products = []
    for gid in global_ids:
        if gid in step_of:
            products.append(model.by_id(step_of[gid]))
        else:
            log.warning("gross mesh: %s is not in the IFC file", gid)
    if not products:
        return {}
    iterator = ifcopenshell.geom.iterator(gross_settings(), model, 1, include=products)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    parts: list[RawMesh] = []
    with KernelOutput(f"gross meshing {len(products)} products", log) as kernel:  # chatter to the debug log
        try:
            with kernel.quiet():
                if not iterator.initialize():
                    return out
        except Exception as exc:
            raise GeometryError(None, f"gross tessellation failed: {exc}",
                                "the net quantities are still valid") from exc
        # stored keys, not raw GlobalIds: the meshes table keys products by cim.ifc.identity
        parts = [dataclasses.replace(raw, global_id=keys.get(raw.step_id, raw.global_id))
                 for raw in iter_shapes(iterator, kernel)]
    for raw in merge_by_product(parts):  # a product with several bodies: one mesh, as in the meshes table
        out[raw.global_id] = (georef.to_city(raw.verts), raw.faces.astype(np.int64))
    return out

"""Is the submission a revision of a building already in the city? Then it is compared against the city without it.

A new version of a building stands where the old one stands: measured against the city *with* the old one it
"overlaps existing buildings" by its own footprint. The rule (documented in schemas/review_report.md):

1. same model: a city model whose id is the review's model id (``submission-<file>``, what ``--accept`` stores),
   or the file name's id without that prefix (``haixia_office.ifc`` -> ``haixia-office``), or that was ingested
   from a file of the same name;
2. same building: a building of a city model has the submission's IfcBuilding GlobalId;
3. same footprint or name: an existing building whose footprint covers the submission's above-ground footprint
   with an intersection over union of at least ``SAME_FOOTPRINT_IOU`` (0.9), or whose name is the submission's
   IfcBuilding name (ignoring case and spaces) and which overlaps it.

The matched city model's buildings, the buildings_existing features standing for it (``building_id`` = its model
id) and the features matched by rule 3 are left out of the comparison.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from cim.store import Store

SAME_FOOTPRINT_IOU = 0.9
_COLUMNS = ["building_id", "name", "model_id", "source", "geometry"]


@dataclass
class Revision:
    """The city building the submission revises, and what the review leaves out for it."""

    model_id: str  # a city model id, or a buildings_existing building_id when only the layer knows it
    version: int | None  # the city's current version of that model (None for a survey-only building)
    matched_by: str  # "model id", "file name", "building GlobalId", "footprint", "name"
    excluded: list[str] = field(default_factory=list)  # building ids left out of the comparison

    @property
    def message(self) -> str:
        version = f" v{self.version}" if self.version is not None else ""
        return f"revision of {self.model_id}{version}: compared against the city without it"

    def as_dict(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "version": self.version, "matched_by": self.matched_by,
                "excluded": list(self.excluded), "message": self.message}


def _norm_name(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value or "")).strip().casefold()


def file_model_id(file_name: str) -> str:
    """The id a file name gives without the review's ``submission-`` prefix (haixia_office.ifc -> haixia-office)."""
    stem = PurePosixPath(file_name).stem
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")


def existing_buildings(city: Store, layer: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The buildings_existing features plus the city's IFC buildings the layer does not list (an accepted plan)."""
    frame = layer.copy()
    for column in _COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    if not city.has_table("buildings"):
        return frame
    listed = {str(b) for b in frame["building_id"].dropna()}
    rows = [r for r in city.read_current("buildings").to_pylist()
            if r.get("kind") == "building" and r.get("footprint") and r["model_id"] not in listed]
    if not rows:
        return frame
    extra = gpd.GeoDataFrame(
        {"building_id": [r["model_id"] for r in rows], "name": [r["name"] for r in rows],
         "model_id": [r["model_id"] for r in rows], "source": [f"model:{r['model_id']} v{r['version']}" for r in rows],
         "global_id": [r["global_id"] for r in rows]},
        geometry=shapely.from_wkb([r["footprint"] for r in rows]), crs=frame.crs)
    return gpd.GeoDataFrame(pd.concat([frame, extra], ignore_index=True), geometry="geometry", crs=frame.crs)


def _model_match(city: Store, file_name: str, model_id: str, global_ids: set[str]) -> tuple[str, str] | None:
    models = {r["model_id"]: r for r in city.current_models().to_pylist() if r.get("kind") == "ifc"}
    for candidate, how in ((model_id, "model id"), (file_model_id(file_name), "model id")):
        if candidate in models:
            return candidate, how
    for mid, row in sorted(models.items()):
        if row.get("source_path") and PurePosixPath(str(row["source_path"])).name == file_name:
            return mid, "file name"
    if global_ids and city.has_table("buildings"):
        for row in city.read_current("buildings").to_pylist():
            if row.get("global_id") in global_ids:
                return row["model_id"], "building GlobalId"
    return None


def _iou(a: BaseGeometry, b: BaseGeometry) -> float:
    """Intersection over union of two footprints; 0 when either cannot be measured."""
    try:
        union = a.union(b).area
        return float(a.intersection(b).area / union) if union > 0 else 0.0
    except shapely.errors.GEOSException:
        return 0.0


def find_revision(city: Store, existing: gpd.GeoDataFrame, *, file_name: str, model_id: str,
                  footprint: BaseGeometry, buildings: list[dict]) -> tuple[Revision | None, gpd.GeoDataFrame]:
    """The revised city building (or None) and the existing buildings to compare against (without it).

    ``buildings``: the submission's rows of the ``buildings`` table (IfcBuilding name and GlobalId).
    """
    names = {_norm_name(b.get("name")) for b in buildings if b.get("name")}
    global_ids = {b["global_id"] for b in buildings if b.get("global_id")}
    matched = _model_match(city, file_name, model_id, global_ids)
    drop = pd.Series(False, index=existing.index)
    if matched is not None:
        ids = existing["building_id"].astype(str)
        drop |= (ids == matched[0]) | (existing["model_id"].astype(str) == matched[0])
    by_shape = existing.geometry.apply(lambda g: g is not None and _iou(g, footprint) >= SAME_FOOTPRINT_IOU)
    by_name = existing["name"].map(_norm_name).isin(names) & existing.geometry.intersects(footprint)
    if matched is None and bool((by_shape | by_name).any()):
        first = existing[by_shape | by_name].iloc[0]
        mid = str(first["model_id"] or first["building_id"])
        matched = (mid, "footprint" if bool(by_shape[first.name]) else "name")
    if matched is None:
        return None, existing
    drop |= by_shape | by_name
    latest = city.latest(matched[0])
    version = int(latest["version"]) if latest is not None else _layer_version(city)
    excluded = sorted({str(b) for b in existing.loc[drop, "building_id"] if b is not None})
    return Revision(matched[0], version, matched[1], excluded), existing[~drop]


def _layer_version(city: Store) -> int | None:
    latest = city.latest("buildings_existing")
    return int(latest["version"]) if latest is not None else None

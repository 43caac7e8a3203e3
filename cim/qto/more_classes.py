"""Base quantities of coverings, footings, railings, stairs, stair flights and roofs.

What each measures:

- Covering (a plate): Width = thickness along its thinnest principal axis, GrossArea / NetArea = the face
  pointing along that axis (gross before openings). An open (single-sided) covering has no thickness: its
  area is the larger of its two sides and everything is flagged.
- Footing (a prism along its plan's long side, as a strip footing is): Length / Width = sides of the plan's
  minimum rectangle, Height = z extent, CrossSectionArea = the cut across the length, OuterSurfaceArea = all
  faces but the two end caps, GrossSurfaceArea = every face of the gross body.
- Railing: Length = extent along the first principal axis (straight railings; a bent one measures its chord).
- Stair flight: Length = the horizontal run along the walking line: the side of the plan's minimum rectangle
  along which the treads rise (straight flights; a winding one measures a side of its box); volumes from meshes.
- Stair: aggregating flights (and landings), Length = sum of the flights' runs, volumes = sum over flights
  and landing slabs; without parts it is measured as one flight.
- Roof: aggregating slabs, GrossArea / NetArea = sum of the slabs' outer (top) faces, true sloped area;
  ProjectedArea = sum of those faces projected to the ground. Without parts its own mesh is one plate.
"""

from __future__ import annotations

import numpy as np

from cim.qto.linear import SECTION_AT, long_axis
from cim.qto.mesh_measures import (
    Mesh,
    extent_along,
    facing_outline,
    footprint,
    min_rectangle,
    outline,
    section,
    surface_area,
    volume,
    z_extent,
)
from cim.qto.quantity import Q, volume_q
from cim.qto.slabs import thin_axis

QSETS = {
    "IfcCovering": "Qto_CoveringBaseQuantities",
    "IfcFooting": "Qto_FootingBaseQuantities",
    "IfcRailing": "Qto_RailingBaseQuantities",
    "IfcStairFlight": "Qto_StairFlightBaseQuantities",
    "IfcStair": "Qto_StairBaseQuantities",
    "IfcRoof": "Qto_RoofBaseQuantities",
}
OWN_BODY = {"IfcCovering", "IfcFooting", "IfcRailing", "IfcStairFlight"}  # measured from their own mesh
ASSEMBLIES = {"IfcStair", "IfcRoof"}  # measured from their aggregated parts (or their own mesh without parts)
OPEN_NOTE = "mesh is not closed: one-sided surface, measured as such"


def _plate_area(mesh: Mesh, axis: np.ndarray) -> float:
    """Area of the plate's face along +axis; of the larger side when the mesh is open (one surface)."""
    up = float(facing_outline(mesh, axis).area)
    return up if mesh.closed else max(up, float(facing_outline(mesh, -axis).area))


def covering_quantities(net: Mesh, gross: Mesh, gross_note: str | None = None) -> list[Q]:
    qset = QSETS["IfcCovering"]
    axis = thin_axis(gross)
    note = None if net.closed and gross.closed else OPEN_NOTE
    gross_notes = "; ".join(n for n in (note, gross_note) if n) or None
    return [
        Q(qset, "Width", extent_along(gross, axis), gross.closed, None if gross.closed else OPEN_NOTE),
        Q(qset, "GrossArea", _plate_area(gross, axis), gross_notes is None, gross_notes),
        Q(qset, "NetArea", _plate_area(net, axis), net.closed, None if net.closed else OPEN_NOTE),
    ]


def footing_quantities(net: Mesh, gross: Mesh, gross_note: str | None = None) -> list[Q]:
    qset = QSETS["IfcFooting"]
    length, width, direction = min_rectangle(footprint(gross))
    axis = np.array([direction[0], direction[1], 0.0])
    proj = gross.verts @ axis
    lo, hi = float(proj.min()), float(proj.max())
    cut = section(gross, axis * (lo + SECTION_AT * (hi - lo)), axis) if gross.closed else None
    caps = np.abs(gross.normals @ axis) >= 0.95
    total = surface_area(gross)
    note = "; ".join(n for n in (None if gross.closed else OPEN_NOTE, gross_note) if n) or None
    if cut is not None:
        cross = Q(qset, "CrossSectionArea", cut[1], note is None, note)
    else:
        cross = Q(qset, "CrossSectionArea", volume(gross) / length if length else None, False,
                  "no closed section across the length: volume / length")
    return [
        Q(qset, "Length", length),
        Q(qset, "Width", width),
        Q(qset, "Height", z_extent(gross)),
        cross,
        Q(qset, "OuterSurfaceArea", total - float(gross.areas[caps].sum()), note is None, note),
        Q(qset, "GrossSurfaceArea", total, note is None, note),
        volume_q(qset, "GrossVolume", volume(gross), gross.closed, gross_note),
        volume_q(qset, "NetVolume", volume(net), net.closed),
    ]


def railing_quantities(net: Mesh) -> list[Q]:
    axis, lo, hi = long_axis(net)
    return [Q(QSETS["IfcRailing"], "Length", hi - lo)]


def _correlation(x: np.ndarray, z: np.ndarray, w: np.ndarray) -> float:
    """Area-weighted correlation of tread heights with a horizontal coordinate."""
    x, z = x - np.average(x, weights=w), z - np.average(z, weights=w)
    denom = np.sqrt(np.average(x * x, weights=w) * np.average(z * z, weights=w))
    return float(abs(np.average(x * z, weights=w)) / denom) if denom > 1e-12 else 0.0


def flight_run(mesh: Mesh) -> Q:
    """Horizontal run of a flight: the side of the plan's minimum rectangle along which the treads rise."""
    qset = QSETS["IfcStairFlight"]
    long_side, short_side, direction = min_rectangle(outline(mesh.tris[:, :, :2]))
    up = mesh.normals[:, 2] > 0.95
    if up.sum() < 2 or np.ptp(mesh.centroids[up, 2]) < 1e-6:
        return Q(qset, "Length", long_side, False, "no rising treads found: long side of the plan")
    c, w = mesh.centroids[up], mesh.areas[up]
    across = np.array([-direction[1], direction[0]])
    along_long = _correlation(c[:, :2] @ direction, c[:, 2], w)
    along_short = _correlation(c[:, :2] @ across, c[:, 2], w)
    return Q(qset, "Length", long_side if along_long >= along_short else short_side)


def stair_flight_quantities(net: Mesh, gross: Mesh, gross_note: str | None = None,
                            qset: str = QSETS["IfcStairFlight"]) -> list[Q]:
    run = flight_run(gross)
    return [
        Q(qset, "Length", run.value, run.reliable, run.note),
        volume_q(qset, "GrossVolume", volume(gross), gross.closed, gross_note),
        volume_q(qset, "NetVolume", volume(net), net.closed),
    ]


def stair_quantities(own: Mesh | None, flights: list[Mesh], landings: list[Mesh]) -> list[Q]:
    """A stair from its flights and landings; from its own mesh when it has no parts with geometry."""
    qset = QSETS["IfcStair"]
    if not flights and not landings:
        return stair_flight_quantities(own, own, None, qset) if own is not None else []
    runs = [flight_run(m) for m in flights]
    parts = [*flights, *landings]
    closed = all(m.closed for m in parts)
    bad = [r.note for r in runs if not r.reliable]
    length = Q(qset, "Length", float(sum(r.value for r in runs)), not bad and bool(runs),
               "; ".join(bad) if bad else (None if runs else "no flights: length 0"))
    total = float(sum(volume(m) for m in parts))
    return [length, volume_q(qset, "GrossVolume", total, closed), volume_q(qset, "NetVolume", total, closed)]


def _roof_faces(mesh: Mesh) -> tuple[float, float]:
    """(true area, ground-projected area) of a roof plate's outer (upper) face, summed over its triangles."""
    axis = thin_axis(mesh)
    keep = mesh.normals @ axis > 0.95
    if not keep.any():  # a one-sided surface whose normals point down
        keep = mesh.normals @ axis < -0.95
    areas = mesh.areas[keep]
    return float(areas.sum()), float((areas * np.abs(mesh.normals[keep, 2])).sum())


def roof_quantities(own: Mesh | None, slabs: list[tuple[Mesh, Mesh, str | None]]) -> list[Q]:
    """A roof from its aggregated (net, gross, gross note) slabs, or from its own mesh as one plate."""
    qset = QSETS["IfcRoof"]
    if not slabs:
        if own is None:
            return []
        slabs = [(own, own, "roof without slabs: its own mesh measured as one plate")]
    gross_area = projected = net_area = 0.0
    notes: set[str] = set()
    for net, gross, note in slabs:
        area, plan = _roof_faces(gross)
        gross_area, projected = gross_area + area, projected + plan
        net_area += _roof_faces(net)[0]
        notes.update(n for n in (note, None if gross.closed and net.closed else OPEN_NOTE) if n)
    note = "; ".join(sorted(notes)) or None
    return [Q(qset, "GrossArea", gross_area, note is None, note),
            Q(qset, "NetArea", net_area, note is None, note),
            Q(qset, "ProjectedArea", projected, note is None, note)]

"""Qto_WallBaseQuantities from net and gross meshes.

Length and Width are the sides of the minimum-area rectangle of the gross footprint, Height its z extent;
side areas are the faces whose normal is the wall's horizontal normal (mean of both sides, i.e. the
middle-plane elevation of the IFC definition). A curved wall's rectangle is wrong: its Length is its Axis
arc (elements.axis_length_m, R x angle), its Width the footprint area over that length, and its side areas,
measured against one normal, are flagged unreliable.
"""

from __future__ import annotations

import numpy as np

from cim.qto.mesh_measures import Mesh, facing_area, footprint, min_rectangle, volume, z_extent
from cim.qto.quantity import Q, volume_q

QSET = "Qto_WallBaseQuantities"


def side_area(mesh: Mesh, normal: np.ndarray) -> float:
    """Elevation area of a wall: mean of the areas facing +normal and -normal."""
    plus, minus = facing_area(mesh, normal)
    return 0.5 * (plus + minus)


CURVED_NOTE = "curved wall: side area measured against one normal"


def wall_quantities(net: Mesh, gross: Mesh, gross_note: str | None = None,
                    curved_axis_length: float | None = None) -> list[Q]:
    """``curved_axis_length``: the length of a curved wall's Axis (None for a straight wall)."""
    fp_gross, fp_net = footprint(gross), footprint(net)
    length, width, direction = min_rectangle(fp_gross)
    normal = np.array([-direction[1], direction[0], 0.0])
    curved = bool(curved_axis_length)
    if curved:
        length, width = curved_axis_length, float(fp_gross.area) / curved_axis_length
    side_note = "; ".join(n for n in (gross_note, CURVED_NOTE if curved else None) if n) or None
    return [
        Q(QSET, "Length", length, True, "along the curved Axis" if curved else None),
        Q(QSET, "Width", width, True, "footprint area / axis length" if curved else None),
        Q(QSET, "Height", z_extent(gross)),
        Q(QSET, "GrossSideArea", side_area(gross, normal), side_note is None, side_note),
        Q(QSET, "NetSideArea", side_area(net, normal), not curved, CURVED_NOTE if curved else None),
        volume_q(QSET, "GrossVolume", volume(gross), gross.closed, gross_note),
        volume_q(QSET, "NetVolume", volume(net), net.closed),
        Q(QSET, "GrossFootprintArea", float(fp_gross.area), gross_note is None, gross_note),
        Q(QSET, "NetFootprintArea", float(fp_net.area)),
    ]

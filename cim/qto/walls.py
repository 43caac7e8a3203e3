"""Qto_WallBaseQuantities from net and gross meshes.

Length and Width are the sides of the minimum-area rectangle of the gross footprint, Height its z extent;
side areas are the faces whose normal is the wall's horizontal normal (mean of both sides, i.e. the
middle-plane elevation of the IFC definition). Straight walls only: a curved wall's rectangle is wrong.
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


def wall_quantities(net: Mesh, gross: Mesh, gross_note: str | None = None) -> list[Q]:
    fp_gross, fp_net = footprint(gross), footprint(net)
    length, width, direction = min_rectangle(fp_gross)
    normal = np.array([-direction[1], direction[0], 0.0])
    return [
        Q(QSET, "Length", length),
        Q(QSET, "Width", width),
        Q(QSET, "Height", z_extent(gross)),
        Q(QSET, "GrossSideArea", side_area(gross, normal), gross_note is None, gross_note),
        Q(QSET, "NetSideArea", side_area(net, normal)),
        volume_q(QSET, "GrossVolume", volume(gross), gross.closed, gross_note),
        volume_q(QSET, "NetVolume", volume(net), net.closed),
        Q(QSET, "GrossFootprintArea", float(fp_gross.area), gross_note is None, gross_note),
        Q(QSET, "NetFootprintArea", float(fp_net.area)),
    ]

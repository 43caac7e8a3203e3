"""Qto_DoorBaseQuantities / Qto_WindowBaseQuantities: width, height, area of the element as seen in elevation.

IFC measures a door or window by its overall (lining outer) size, which is the opening it fills: so the
filled opening is measured when there is one, else the element's own body (whose casings and sills may
stick out). Width is the extent along the host wall (or the long side of the plan's minimum rectangle
without a host), Height the z extent, Area = Width x Height.
"""

from __future__ import annotations

import numpy as np

from cim.qto.mesh_measures import Mesh, min_rectangle, outline, z_extent
from cim.qto.quantity import Q

QSETS = {"IfcDoor": "Qto_DoorBaseQuantities", "IfcWindow": "Qto_WindowBaseQuantities"}


def horizontal_width(mesh: Mesh, direction: np.ndarray | None) -> float:
    """Extent along a horizontal 2-D direction, or the long side of the plan's minimum rectangle."""
    if direction is None:
        plan = outline(mesh.tris[:, :, :2])  # every face: door and window bodies are often open meshes
        return min_rectangle(plan)[0]
    proj = mesh.verts[:, :2] @ np.asarray(direction, np.float64)
    return float(proj.max() - proj.min())


def filler_quantities(ifc_class: str, mesh: Mesh, direction: np.ndarray | None = None,
                      note: str | None = None) -> list[Q]:
    qset = QSETS[ifc_class]
    width = horizontal_width(mesh, direction)
    height = z_extent(mesh)
    return [
        Q(qset, "Width", width, True, note),
        Q(qset, "Height", height, True, note),
        Q(qset, "Area", width * height, True, note),
        Q(qset, "Perimeter", 2.0 * (width + height), True, note),
    ]

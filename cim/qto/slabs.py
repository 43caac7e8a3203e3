"""Qto_SlabBaseQuantities from net and gross meshes.

The slab's plane is found by principal axes (its thinnest direction), so sloped roof slabs measure their
true area, not the plan projection. Width is the thickness along that direction; Perimeter is the outer
boundary of the gross top face (intrinsic holes and openings not counted).
"""

from __future__ import annotations

import numpy as np

from cim.qto.mesh_measures import Mesh, extent_along, exterior_only, facing_outline, principal_axes, volume
from cim.qto.quantity import Q, volume_q

QSET = "Qto_SlabBaseQuantities"


def thin_axis(mesh: Mesh) -> np.ndarray:
    """Unit normal of a plate-like mesh, pointing up (or along +x/+y when vertical)."""
    axis = principal_axes(mesh)[1][2]
    for k in (2, 0, 1):
        if abs(axis[k]) > 1e-9:
            return axis if axis[k] > 0 else -axis
    return axis


def plate_areas(mesh: Mesh, axis: np.ndarray):
    """Outline of the top face (faces along +axis) in the plate's plane."""
    return facing_outline(mesh, axis)


def slab_quantities(net: Mesh, gross: Mesh, gross_note: str | None = None, qset: str = QSET) -> list[Q]:
    axis = thin_axis(gross)
    top_gross, top_net = plate_areas(gross, axis), plate_areas(net, axis)
    return [
        Q(qset, "Width", extent_along(gross, axis)),
        Q(qset, "Perimeter", float(exterior_only(top_gross).length) if not top_gross.is_empty else 0.0),
        Q(qset, "GrossArea", float(top_gross.area), gross_note is None, gross_note),
        Q(qset, "NetArea", float(top_net.area)),
        volume_q(qset, "GrossVolume", volume(gross), gross.closed, gross_note),
        volume_q(qset, "NetVolume", volume(net), net.closed),
    ]

"""World placements of products without recursion, and which products have a Body to mesh.

``ifcopenshell.util.placement.get_local_placement`` recurses once per level, so a placement cycle or a
deep chain raises RecursionError; here each IfcLocalPlacement is resolved once, iteratively, and only
for products whose chain :mod:`cim.ifc.integrity` found free of cycles.
"""

from __future__ import annotations

import math

import ifcopenshell
import ifcopenshell.util.placement
import numpy as np

from cim.geometry.quiet import KernelOutput
from cim.ifc.attribute import attribute, value

BODY_IDENTIFIERS = ("body", "facetation")  # what ifcopenshell.geom meshes by default


def has_body(product: ifcopenshell.entity_instance) -> bool:
    """True when the product has a Body (or Facetation) representation: it is expected to mesh."""
    shape = attribute(product, "Representation")
    if shape is None:
        return False
    for rep in attribute(shape, "Representations") or ():
        ident = attribute(rep, "RepresentationIdentifier")
        if ident and ident.lower() in BODY_IDENTIFIERS:
            return True
    return False


def world_matrices(placements: list[ifcopenshell.entity_instance | None]) -> list[np.ndarray | None]:
    """4x4 matrix (project units) of each placement; None where it cannot be computed.

    Chains are walked with an explicit stack and every IfcLocalPlacement is computed once, however many
    products share it; a chain that comes back on itself gives None.
    """
    memo: dict[int, np.ndarray | None] = {}
    # linear placements are evaluated by the geometry kernel, which prints to the console: keep it in the log
    with KernelOutput(f"placing {len(placements)} products") as kernel, kernel.quiet():
        return [_resolve(p, memo) if p is not None else None for p in placements]


def _resolve(placement: ifcopenshell.entity_instance, memo: dict[int, np.ndarray | None]) -> np.ndarray | None:
    chain = []
    walked: set[int] = set()
    node = placement
    while node is not None and node.id() not in memo:
        if node.id() in walked:  # a cycle a caller did not rule out: no placement, not a hang
            for item in chain:
                memo[item.id()] = None
            return None
        walked.add(node.id())
        chain.append(node)
        node = attribute(node, "PlacementRelTo") if node.is_a("IfcLocalPlacement") else None
    parent = memo.get(node.id()) if node is not None else np.eye(4)
    for item in reversed(chain):
        parent = _local(item, parent)
        memo[item.id()] = parent
    return memo[placement.id()]


def _local(placement: ifcopenshell.entity_instance, parent: np.ndarray | None) -> np.ndarray | None:
    if parent is None:
        return None
    try:
        if placement.is_a("IfcLocalPlacement"):
            relative = value(placement, "RelativePlacement")
            if relative is None:
                return None
            return parent @ _axis2placement(relative)
        # grid and linear placements: ifcopenshell's own routine (their chains are short)
        return ifcopenshell.util.placement.get_local_placement(placement)
    except Exception:  # noqa: BLE001 - an unreadable placement is reported by the caller as unknown
        return None


def _axis2placement(placement: ifcopenshell.entity_instance) -> np.ndarray:
    """4x4 matrix of an IfcAxis2Placement2D/3D (IFC's BuildAxes) in plain floats: numpy's per-call overhead
    dominates on 3-vectors, and there is one placement per product."""
    location = value(placement, "Location")
    loc = list(value(location, "Coordinates")) if location is not None else []
    ox, oy, oz = (loc + [0.0, 0.0, 0.0])[:3]
    axis = attribute(placement, "Axis")
    ref = attribute(placement, "RefDirection")
    zx, zy, zz = (list(value(axis, "DirectionRatios")) + [0.0])[:3] if axis is not None else (0.0, 0.0, 1.0)
    xx, xy, xz = (list(value(ref, "DirectionRatios")) + [0.0])[:3] if ref is not None else (1.0, 0.0, 0.0)
    n = math.sqrt(zx * zx + zy * zy + zz * zz) or math.nan
    zx, zy, zz = zx / n, zy / n, zz / n
    d = xx * zx + xy * zy + xz * zz
    xx, xy, xz = xx - d * zx, xy - d * zy, xz - d * zz
    n = math.sqrt(xx * xx + xy * xy + xz * xz) or math.nan
    xx, xy, xz = xx / n, xy / n, xz / n
    yx, yy, yz = zy * xz - zz * xy, zz * xx - zx * xz, zx * xy - zy * xx
    return np.array([[xx, yx, zx, ox], [xy, yy, zy, oy], [xz, yz, zz, oz], [0.0, 0.0, 0.0, 1.0]])

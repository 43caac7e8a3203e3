"""Base quantities of linear elements: columns, beams, members, piles, pipes, ducts, cables, carriers.

Length is the extent along the first principal axis; cross sections are cut at mid-length (exact for
prismatic elements; gross fills the bore, net is the material); OuterSurfaceArea is the lateral area (end
caps excluded), and for flow segments only the faces pointing away from the axis (a pipe's bore excluded).
"""

from __future__ import annotations

import numpy as np

from cim.qto.mesh_measures import SIDE_COS, Mesh, principal_axes, section, volume
from cim.qto.quantity import Q, volume_q

STRUCTURAL = {
    "IfcColumn": "Qto_ColumnBaseQuantities",
    "IfcBeam": "Qto_BeamBaseQuantities",
    "IfcMember": "Qto_MemberBaseQuantities",
    "IfcPile": "Qto_PileBaseQuantities",
}
FLOW = {
    "IfcPipeSegment": "Qto_PipeSegmentBaseQuantities",
    "IfcDuctSegment": "Qto_DuctSegmentBaseQuantities",
    "IfcCableSegment": "Qto_CableSegmentBaseQuantities",
    "IfcCableCarrierSegment": "Qto_CableCarrierSegmentBaseQuantities",
}
SECTION_AT = 0.5017  # fraction of the length where the section is cut: off the middle to miss vertices


def long_axis(mesh: Mesh) -> tuple[np.ndarray, float, float]:
    """Unit first principal axis and the min/max projection of the vertices on it."""
    axis = principal_axes(mesh)[1][0]
    proj = mesh.verts @ axis
    return axis, float(proj.min()), float(proj.max())


def lateral_mask(mesh: Mesh, axis: np.ndarray, outward_only: bool) -> np.ndarray:
    """Triangles that are not end caps; with ``outward_only`` also not facing the axis (inner bore)."""
    side = np.abs(mesh.normals @ axis) < SIDE_COS
    if not outward_only:
        return side
    c = mesh.centroids
    w = mesh.areas * side
    centre = (c * w[:, None]).sum(axis=0) / max(w.sum(), 1e-300)
    radial = c - centre
    radial -= np.outer(radial @ axis, axis)
    return side & (np.einsum("ij,ij->i", mesh.normals, radial) > 0)


def _cross_section(mesh: Mesh, axis: np.ndarray, lo: float, hi: float) -> tuple[float, float] | None:
    return section(mesh, axis * (lo + SECTION_AT * (hi - lo)), axis)


def structural_quantities(ifc_class: str, net: Mesh, gross: Mesh, gross_note: str | None = None) -> list[Q]:
    qset = STRUCTURAL[ifc_class]
    axis, lo, hi = long_axis(gross)
    length = hi - lo
    cut = _cross_section(gross, axis, lo, hi)
    if cut is not None and gross.closed:
        area = Q(qset, "CrossSectionArea", cut[1])
    else:
        area = Q(qset, "CrossSectionArea", volume(gross) / length if length else None, False,
                 "no closed mid-length section: volume / length of a possibly open mesh")
    return [
        Q(qset, "Length", length),
        area,
        Q(qset, "OuterSurfaceArea", float(net.areas[lateral_mask(net, axis, False)].sum())),
        volume_q(qset, "GrossVolume", volume(gross), gross.closed, gross_note),
        volume_q(qset, "NetVolume", volume(net), net.closed),
    ]


def flow_quantities(ifc_class: str, net: Mesh) -> list[Q]:
    qset = FLOW[ifc_class]
    axis, lo, hi = long_axis(net)
    cut = _cross_section(net, axis, lo, hi)
    out = [Q(qset, "Length", hi - lo),
           Q(qset, "OuterSurfaceArea", float(net.areas[lateral_mask(net, axis, True)].sum()))]
    if cut is None:
        note = "mesh does not cut into a closed section"
        return [*out, Q(qset, "GrossCrossSectionArea", None, False, note),
                Q(qset, "NetCrossSectionArea", None, False, note)]
    return [*out, Q(qset, "GrossCrossSectionArea", cut[0], net.closed),
            Q(qset, "NetCrossSectionArea", cut[1], net.closed)]

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


def segment_axis(mesh: Mesh, declared_length: float | None) -> tuple[np.ndarray, float, float, Q | None]:
    """The segment's axis with the vertices' extent on it, and the Length when the mesh alone decides it.

    With the length the file declares along the axis (elements.axis_length_m), the axis is the principal
    axis whose extent matches it: a stub shorter than its diameter has its longest extent across the bore.
    Without it, the first principal axis; its extent is flagged unreliable when it is no longer than the
    cross-section (then it may be the diameter)."""
    axes = principal_axes(mesh)[1]
    proj = mesh.verts @ axes.T
    extents = proj.max(axis=0) - proj.min(axis=0)
    if declared_length:
        i = int(np.argmin(np.abs(extents - declared_length)))
        if abs(extents[i] - declared_length) <= 0.02 * declared_length + 1e-3:  # else the depth is not the length
            return axes[i], float(proj[:, i].min()), float(proj[:, i].max()), None
    length = float(extents[0])
    if length <= 1.05 * float(extents[1:].max()):
        return axes[0], float(proj[:, 0].min()), float(proj[:, 0].max()), Q(
            "", "Length", length, False, "segment no longer than its cross-section and no extrusion or axis in the "
            "file: the longest extent may be its diameter")
    return axes[0], float(proj[:, 0].min()), float(proj[:, 0].max()), None


def flow_quantities(ifc_class: str, net: Mesh, axis_length: float | None = None) -> list[Q]:
    """``axis_length``: the segment's length along its axis from the IFC (extrusion depth or Axis curve)."""
    qset = FLOW[ifc_class]
    axis, lo, hi, doubt = segment_axis(net, axis_length)
    cut = _cross_section(net, axis, lo, hi)
    if axis_length and abs((hi - lo) - axis_length) <= 0.02 * axis_length + 1e-3:
        length = Q(qset, "Length", axis_length, True, "from the body's extrusion depth or the Axis curve")
    elif doubt is not None:
        length = Q(qset, "Length", doubt.value, False, doubt.note)
    else:
        length = Q(qset, "Length", hi - lo)
    out = [length,
           Q(qset, "OuterSurfaceArea", float(net.areas[lateral_mask(net, axis, True)].sum()))]
    if cut is None:
        note = "mesh does not cut into a closed section"
        return [*out, Q(qset, "GrossCrossSectionArea", None, False, note),
                Q(qset, "NetCrossSectionArea", None, False, note)]
    return [*out, Q(qset, "GrossCrossSectionArea", cut[0], net.closed),
            Q(qset, "NetCrossSectionArea", cut[1], net.closed)]

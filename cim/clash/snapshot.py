"""A small PNG of two clashing elements, for BCF topics and the review report.

Drawn with matplotlib's Agg backend as flat-shaded 2D polygons (a painter's algorithm over an
orthographic projection) rather than mplot3d: one PolyCollection renders thousands of triangles in
a few tens of milliseconds, and the output is byte-identical for the same input. The view looks
from the south-east and above, the direction the BCF viewpoint camera uses, so the picture matches
what a viewer opens. Inputs are in a local frame (the caller subtracts an origin) so float32
rendering keeps millimetres.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from cim.clash.bcf_xml import CAMERA_OFFSET
from cim.errors import GeometryError

MAX_TRIANGLES = 3000  # per element; beyond it the triangles nearest the clash point are kept
COLOUR_A = (0.86, 0.22, 0.16)  # red-ish
COLOUR_B = (0.16, 0.36, 0.86)  # blue-ish
ALPHA = 0.55
BACKGROUND = (0.97, 0.97, 0.97)
MIN_HALF_WIDTH = 0.25  # m: a millimetre clash still gets a readable frame
DPI = 100


def _view_axes() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Right, up and forward unit vectors of the shared south-east oblique view."""
    offset = np.asarray(CAMERA_OFFSET, dtype=np.float64)
    forward = -offset / np.linalg.norm(offset)
    right = np.cross(forward, (0.0, 0.0, 1.0))
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return right, up, forward


def _check_mesh(vertices: np.ndarray, faces: np.ndarray, which: str) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces)
    if v.size == 0 or f.size == 0:
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3:
        raise GeometryError(None, f"snapshot: element {which} mesh must be (n, 3) vertices and (m, 3) faces",
                            "pass Solid.vertices and Solid.faces", stage="clash")
    f = f.astype(np.int64)
    if f.min() < 0 or f.max() >= len(v):
        raise GeometryError(None, f"snapshot: element {which} has face indices outside its vertex list",
                            "pass the faces that belong to these vertices", stage="clash")
    return v, f


def _nearest_triangles(tris: np.ndarray, point: np.ndarray) -> np.ndarray:
    """At most MAX_TRIANGLES triangles, the ones whose centroids lie nearest the clash point."""
    if len(tris) <= MAX_TRIANGLES:
        return tris
    distance = np.linalg.norm(tris.mean(axis=1) - point, axis=1)
    keep = np.sort(np.argsort(distance, kind="stable")[:MAX_TRIANGLES])
    return tris[keep]


def _shaded(tris: np.ndarray, colour: Sequence[float], light: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Non-degenerate triangles and their RGBA colours, darker where they turn away from the light."""
    normals = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
    length = np.linalg.norm(normals, axis=1)
    ok = length > 1e-12
    tris, normals = tris[ok], normals[ok] / length[ok, None]
    shade = 0.35 + 0.65 * np.abs(normals @ light)
    rgba = np.empty((len(tris), 4))
    rgba[:, :3] = np.clip(np.outer(shade, colour), 0.0, 1.0)
    rgba[:, 3] = ALPHA
    return tris, rgba


def _half_width(point: np.ndarray, meshes: list[np.ndarray]) -> float:
    """Half the frame: enough to show the smaller element whole around the point (the larger may run off)."""
    reach = [float(np.max(np.linalg.norm(v - point, axis=1))) for v in meshes if len(v)]
    return max(MIN_HALF_WIDTH, 1.15 * min(reach)) if reach else MIN_HALF_WIDTH


def render_pair(
    a_vertices: np.ndarray,
    a_faces: np.ndarray,
    b_vertices: np.ndarray | None,
    b_faces: np.ndarray | None,
    point: Sequence[float],
    size: tuple[int, int] = (640, 480),
) -> bytes:
    """PNG bytes of element A (red) and B (blue, optional: None for an element against a zone),
    semi-transparent and shaded, looking at the clash ``point`` (marked) from the south-east above."""
    width, height = int(size[0]), int(size[1])
    if width < 16 or height < 16:
        raise GeometryError(None, f"snapshot: image size {size} is too small", "ask for at least 16 x 16 pixels",
                            stage="clash")
    target = np.asarray(point, dtype=np.float64).reshape(3)
    right, up, forward = _view_axes()
    light = -forward + np.array([0.3, 0.2, 0.9])
    light /= np.linalg.norm(light)

    meshes, tris_all, colours_all = [], [], []
    parts = [("A", a_vertices, a_faces, COLOUR_A)]
    if b_vertices is not None and b_faces is not None:
        parts.append(("B", b_vertices, b_faces, COLOUR_B))
    for which, vertices, faces, colour in parts:
        v, f = _check_mesh(vertices, faces, which)
        meshes.append(v)
        if len(f):
            tris, rgba = _shaded(_nearest_triangles(v[f], target), colour, light)
            tris_all.append(tris)
            colours_all.append(rgba)

    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, facecolor=BACKGROUND)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_axis_off()
    half = _half_width(target, meshes)
    ax.set_xlim(-half * width / height, half * width / height)
    ax.set_ylim(-half, half)
    if tris_all:
        tris = np.concatenate(tris_all) - target
        rgba = np.concatenate(colours_all)
        depth = (tris.mean(axis=1) @ forward)
        order = np.argsort(-depth, kind="stable")  # farthest first: the painter's algorithm
        screen = np.stack([tris[order] @ right, tris[order] @ up], axis=-1)
        ax.add_collection(PolyCollection(screen, facecolors=rgba[order], edgecolors=rgba[order] * [0.7, 0.7, 0.7, 1],
                                         linewidths=0.3, antialiaseds=True))
    ax.plot([0.0], [0.0], marker="o", markersize=11, markerfacecolor="none", markeredgecolor="white",
            markeredgewidth=3.5)
    ax.plot([0.0], [0.0], marker="o", markersize=11, markerfacecolor="none", markeredgecolor="black",
            markeredgewidth=1.6)
    ax.plot([0.0], [0.0], marker="+", markersize=20, color="black", markeredgewidth=1.2)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor=BACKGROUND, metadata={"Software": None})
    return buffer.getvalue()


def clash_picture(row: Mapping, meshes: Mapping[str, tuple], size: tuple[int, int] = (640, 480)) -> bytes | None:
    """PNG of a clash row's element A and B (absent for a zone) around its point, or None without A's mesh.

    ``meshes`` maps ``model_id/global_id`` to (vertices, faces, ...) in world coordinates. The picture is drawn
    in a local frame around the rounded clash point, so millimetres survive float32 rendering; the BCF
    snapshot and the review report's thumbnails both come from here."""
    found_a = meshes.get(f"{row['a_model']}/{row['a_global_id']}")
    if found_a is None:
        return None
    point = np.array([row["x"], row["y"], row["z"]], dtype=np.float64)
    origin = np.round(point, 0)
    found_b = meshes.get(f"{row['b_model']}/{row['b_global_id']}")
    vb, fb = (found_b[0] - origin, found_b[1]) if found_b is not None else (None, None)
    try:
        return render_pair(found_a[0] - origin, found_a[1], vb, fb, point - origin, size=size)
    except (GeometryError, ValueError):
        return None

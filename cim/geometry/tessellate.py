"""Triangulate IFC products with ifcopenshell.geom, in metres in the model's engineering frame.

Shared representations are triangulated once: the kernel runs in each shape's own frame
(``use-world-coords`` off), so every occurrence of a type's representation map (and every product whose
body is the same representation) comes back with the same geometry id and the kernel's cached
triangulation. The placement is then applied here, one matrix product per occurrence. On models built
from types this is an order of magnitude less kernel time than triangulating every occurrence in world
coordinates, and the world meshes are the same to well under 0.1 mm (tests/test_geometry_instancing.py).
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import ifcopenshell
import ifcopenshell.geom
import numpy as np

from cim.geometry.batch import is_closed
from cim.geometry.instances import kernel_correction
from cim.geometry.quiet import KernelOutput

log = logging.getLogger(__name__)
BATCH = 512  # shapes meshed in one quiet window, then placed and welded at once
# CGAL for the simple solids most elements are (extrusions, tessellations), Open CASCADE for the rest: on
# extruded walls, slabs and pipes several times less kernel time than Open CASCADE alone (bench/ingest.py).
GEOMETRY_LIBRARY = "hybrid-cgal-simple-opencascade"
FALLBACK_LIBRARY = "opencascade"
CIRCLE_SEGMENTS = 32


@dataclass
class RawMesh:
    step_id: int
    global_id: str
    verts: np.ndarray  # (n, 3) float64, metres, engineering (project) frame
    faces: np.ndarray  # (m, 3) int32


def settings() -> ifcopenshell.geom.settings:
    s = ifcopenshell.geom.settings()
    s.set("use-world-coords", False)  # each shape in its own frame, placed by iter_shapes: shared bodies mesh once
    s.set("weld-vertices", True)  # output is always SI metres
    # CGAL cuts a circle into 16 segments by default: a pipe's volume 2.5 % short. 32 is as fine as Open
    # CASCADE's default deflection on pipe sizes, within 0.7 % of the true volume.
    s.set("circle-segments", CIRCLE_SEGMENTS)
    return s


def iter_meshes(model: ifcopenshell.file, include: Iterable[ifcopenshell.entity_instance] | None = None,
                groups: dict[int, list] | None = None) -> Iterator[RawMesh]:
    """Yield one mesh per product with a body. Products that fail to mesh are logged and skipped.

    One kernel thread: parallel work is spread over processes, and for the few hundred products a revision
    meshes in its own process two kernel threads took longer (0.10 s against 0.086 s for 100 products, 0.45
    against 0.40 s for 500) and half as much CPU again.
    ``groups`` (``cim.geometry.instances.Copies.groups``): the mesh of a group's first product is placed for
    every product of the group (``include`` then holds only the first ones, ``Copies.kernel``).

    What the kernel prints goes to the debug log, not the console (see ``cim.geometry.quiet``).
    """
    include = list(include) if include is not None else None
    if include is not None and not include:
        return
    meshed: set[int] = set()
    for mesh in _iter_library(model, include, GEOMETRY_LIBRARY, groups):
        meshed.add(mesh.step_id)
        yield mesh
    # What the fast library could not mesh goes to Open CASCADE alone, which handles every IFC geometry type
    # the kernel supports: nothing is lost to the choice of library.
    rest = [p for p in (include if include is not None else model.by_type("IfcProduct"))
            if p.id() not in meshed and getattr(p, "Representation", None) is not None]
    if rest:
        log.debug("%d products not meshed by %s, meshing them with %s", len(rest), GEOMETRY_LIBRARY, FALLBACK_LIBRARY)
        yield from _iter_library(model, rest, FALLBACK_LIBRARY, groups)


def _iter_library(model: ifcopenshell.file, include: list | None, library: str,
                  groups: dict | None = None) -> Iterator[RawMesh]:
    with KernelOutput(f"meshing {len(include) if include is not None else 'all'} products") as kernel:
        iterator = ifcopenshell.geom.iterator(settings(), model, 1, include=include, geometry_library=library)
        with kernel.quiet():
            more = iterator.initialize()
        if more:
            yield from iter_shapes(iterator, kernel, groups)


def iter_shapes(iterator: ifcopenshell.geom.iterator, kernel: KernelOutput,
                groups: dict[int, list] | None = None) -> Iterator[RawMesh]:
    """Walk an initialised iterator (``use-world-coords`` off): one RawMesh per shape, placed in the model frame.

    The local vertices of each geometry id are copied out once and kept for its later occurrences. Shapes are
    placed and welded a batch at a time (see ``weld``). A shape of the first product of one of ``groups``
    (``cim.geometry.instances``) is placed for each product of the group, by that product's own matrix.
    """
    groups = groups or {}
    local: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}
    more = True
    while more:
        batch: list[RawMesh] = []
        with kernel.quiet():  # one window per batch, not per shape: the fd swap costs more than placing a shape
            while more and len(batch) < BATCH:
                shape = iterator.get()
                gid = shape.geometry.id
                if gid not in local:
                    local[gid] = _local_mesh(shape.geometry)
                mesh = local[gid]
                if mesh is not None:
                    matrix = np.frombuffer(shape.transformation_buffer, dtype=np.float64).reshape(4, 4, order="F")
                    members = groups.get(shape.id)
                    if members is None:
                        batch.append(RawMesh(shape.id, shape.guid, *place(mesh[0], mesh[1], matrix)))
                    else:
                        fix = kernel_correction(matrix, members[0][2])
                        batch.extend(RawMesh(step_id, guid, *place(mesh[0], mesh[1], own if fix is None else own @ fix))
                                     for step_id, guid, own in members)
                more = iterator.next()
        yield from weld(batch)


def _local_mesh(geom) -> tuple[np.ndarray, np.ndarray] | None:
    """Copy a triangulation's buffers out of the iterator (they are reused by its next step); None if empty."""
    faces = np.frombuffer(geom.faces_buffer, dtype=np.int32).reshape(-1, 3)
    if not len(faces):
        return None
    verts = np.frombuffer(geom.verts_buffer, dtype=np.float64).reshape(-1, 3)
    return verts.copy(), faces.copy()


def place(verts: np.ndarray, faces: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices moved by a 4x4 placement; a mirroring placement also reverses the triangles' winding, so that
    normals keep pointing out of the solid as they do when the kernel places the shape itself."""
    rot, shift = matrix[:3, :3], matrix[:3, 3]
    placed = verts @ rot.T + shift
    faces = faces[:, ::-1] if np.linalg.det(rot) < 0 else faces
    return placed, faces.copy()  # a copy per occurrence: callers own their arrays


def weld(meshes: list[RawMesh]) -> list[RawMesh]:
    """Merge vertices that the placement made exactly equal where that closes the mesh, as the kernel's
    ``weld-vertices`` does in world coordinates: a corner of a cut solid (a wall with an opening) can come out
    twice a rounding apart in the shape's frame and once in the world frame, and a solid meshed with such a
    seam would not count as closed.

    One lexsort over the whole batch finds the (rare) meshes concerned; only those are rebuilt, keeping the
    first occurrence of each point, in order.
    """
    if not meshes:
        return meshes
    counts = np.array([len(m.verts) for m in meshes])
    owner = np.repeat(np.arange(len(meshes)), counts)
    allv = np.concatenate([m.verts for m in meshes])
    order = np.lexsort((allv[:, 2], allv[:, 1], allv[:, 0], owner))
    sorted_v, sorted_owner = allv[order], owner[order]
    same = (sorted_owner[1:] == sorted_owner[:-1]) & (sorted_v[1:] == sorted_v[:-1]).all(axis=1)
    for i in np.unique(sorted_owner[1:][same]):
        welded = _weld_one(meshes[i])
        if is_closed(welded.faces) and not is_closed(meshes[i].faces):
            meshes[i] = welded
    return meshes


def _weld_one(mesh: RawMesh) -> RawMesh:
    _, first, inverse = np.unique(mesh.verts, axis=0, return_index=True, return_inverse=True)
    keep = np.sort(first)  # each distinct point at its first occurrence, in the original order
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    faces = rank[inverse.reshape(-1)][mesh.faces].astype(np.int32)
    return RawMesh(mesh.step_id, mesh.global_id, mesh.verts[keep], faces)


def default_workers() -> int:
    return max(1, multiprocessing.cpu_count())

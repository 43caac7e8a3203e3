"""Triangulate IFC products with ifcopenshell.geom, in metres in the model's engineering frame."""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import ifcopenshell
import ifcopenshell.geom
import numpy as np

from cim.geometry.quiet import KernelOutput

log = logging.getLogger(__name__)


@dataclass
class RawMesh:
    step_id: int
    global_id: str
    verts: np.ndarray  # (n, 3) float64, metres, engineering (project) frame
    faces: np.ndarray  # (m, 3) int32


def settings() -> ifcopenshell.geom.settings:
    s = ifcopenshell.geom.settings()
    s.set("use-world-coords", True)  # placements applied; output is always SI metres
    s.set("weld-vertices", True)
    return s


def iter_meshes(model: ifcopenshell.file,
                include: Iterable[ifcopenshell.entity_instance] | None = None) -> Iterator[RawMesh]:
    """Yield one mesh per product with a body. Products that fail to mesh are logged and skipped.

    What the kernel prints goes to the debug log, not the console (see ``cim.geometry.quiet``).
    """
    include = list(include) if include is not None else None
    if include is not None and not include:
        return
    with KernelOutput(f"meshing {len(include) if include is not None else 'all'} products") as kernel:
        iterator = ifcopenshell.geom.iterator(settings(), model, 1, include=include)
        with kernel.quiet():
            more = iterator.initialize()
        while more:
            with kernel.quiet():
                mesh = _raw_mesh(iterator.get())
                more = iterator.next()
            if mesh is not None:
                yield mesh


def _raw_mesh(shape) -> RawMesh | None:
    """Copy the shape's buffers out of the iterator (they are reused by its next step)."""
    geom = shape.geometry
    verts = np.frombuffer(geom.verts_buffer, dtype=np.float64).reshape(-1, 3)
    faces = np.frombuffer(geom.faces_buffer, dtype=np.int32).reshape(-1, 3)
    if not len(faces):
        return None
    return RawMesh(shape.id, shape.guid, verts.copy(), faces.copy())


def default_workers() -> int:
    return max(1, multiprocessing.cpu_count())

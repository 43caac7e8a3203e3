"""Occurrences whose meshes are the same in their own frames: the kernel meshes one, cim places the others.

IfcOpenShell's iterator triangulates a type's representation map once for all its occurrences only when
none of them has an opening (IfcOpenShell#4799): one door in one wall of a type and every wall of the type is
processed on its own, and every wall with an opening is cut on its own, even when the opening sits in the
same place in each. On a model built from types that is most of the kernel's time (a 10,000-element model:
268 identical door openings cost 1.3 of its 1.7 s).

Here occurrences are grouped by everything that decides their mesh in their own frame: the representation
map and the mapping target's values of their single Body item, and each opening's own map, target and
placement relative to the host (rounded to a nanometre). Only the first of a group goes to the kernel; every
occurrence of the group, the first included, is then placed by its own placement matrix
(``cim.ifc.placement``), so a product's mesh does not depend on which occurrence was meshed. Anything else
(several Body representations, items that are not one mapped item, projections, a placement cim cannot
compute) goes to the kernel as before. ``tests/test_geometry_instances.py`` compares the result with the kernel's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import ifcopenshell
import numpy as np

from cim.ifc.attribute import attribute, value
from cim.ifc.placement import BODY_IDENTIFIERS, world_matrices

IGNORED_IDENTIFIERS = ("axis",)  # representations the kernel does not mesh into the body (a curve)
DIGITS = 9  # metres: placements equal to a nanometre give the same mesh


@dataclass
class Copies:
    """Which products the kernel meshes, and the occurrences each of them stands for."""

    kernel: list[ifcopenshell.entity_instance]  # products given to the kernel
    groups: dict[int, list[tuple[int, str, np.ndarray]]] = field(default_factory=dict)  # first -> occurrences

    @property
    def n_copied(self) -> int:
        return sum(len(members) - 1 for members in self.groups.values())


def plan_copies(products: Sequence[ifcopenshell.entity_instance], matrices: dict[int, np.ndarray | None],
                unit_scale: float) -> Copies:
    """Group ``products`` into occurrences of the same mesh; ``matrices``: world placement (project units)
    by STEP id (their openings' are added to it)."""
    groups: dict[tuple, list[ifcopenshell.entity_instance]] = {}
    kernel = []
    operators: dict[int, tuple] = {}  # mapping targets are often shared: read each once
    for product in products:
        key = _mesh_key(product, matrices, unit_scale, operators)
        if key is None:
            kernel.append(product)
        else:
            groups.setdefault(key, []).append(product)
    copies = Copies(kernel)
    for members in groups.values():  # a group of one too: a product is placed the same way in any company
        kernel.append(members[0])
        copies.groups[members[0].id()] = [(m.id(), value(m, "GlobalId"), _metres(matrices[m.id()], unit_scale))
                                          for m in members]
    return copies


def kernel_correction(first_kernel: np.ndarray, first_own: np.ndarray) -> np.ndarray | None:
    """What the kernel's placement of a group's first shape adds to the product's own placement (metres):
    None when nothing (every model seen), else the matrix each occurrence's own placement is multiplied by."""
    correction = np.linalg.solve(first_own, first_kernel)
    if np.abs(correction - np.eye(4)).max() <= 1e-9:
        return None
    return correction


def _metres(matrix: np.ndarray, unit_scale: float) -> np.ndarray:
    out = matrix.copy()
    out[:3, 3] *= unit_scale
    return out


def _mesh_key(product: ifcopenshell.entity_instance, matrices: dict[int, np.ndarray | None],
              unit_scale: float, operators: dict[int, tuple]) -> tuple | None:
    """What decides the product's mesh in its own frame, or None when it must go to the kernel."""
    item = _single_mapped_body(product)
    if item is None or not _usable(matrices.get(product.id())) or attribute(product, "HasProjections"):
        return None
    openings = []
    for rel in attribute(product, "HasOpenings", ()):
        opening = value(rel, "RelatedOpeningElement")
        key = _opening_key(product, opening, matrices, unit_scale, operators) if opening is not None else None
        if key is None:
            return None
        openings.append(key)
    return (value(item, "MappingSource").id(), _operator_key(value(item, "MappingTarget"), operators),
            tuple(sorted(openings)))


def _opening_key(host, opening, matrices: dict[int, np.ndarray | None], unit_scale: float,
                 operators: dict[int, tuple]) -> tuple | None:
    item = _single_mapped_body(opening)
    placement = value(opening, "ObjectPlacement")
    if item is None or attribute(opening, "HasOpenings") or placement is None:
        return None
    if opening.id() not in matrices:  # an opening in another chunk than its host
        matrices[opening.id()] = world_matrices([placement])[0]
    own = matrices[opening.id()]
    if not _usable(own):
        return None
    try:
        relative = np.linalg.solve(matrices[host.id()], own)
    except np.linalg.LinAlgError:
        return None
    relative[:3, 3] *= unit_scale
    if not np.isfinite(relative).all():
        return None
    rounded = np.round(relative, DIGITS) + 0.0  # + 0.0: -0.0 and 0.0 are the same place
    return (value(item, "MappingSource").id(), _operator_key(value(item, "MappingTarget"), operators),
            rounded.tobytes())


def _usable(matrix: np.ndarray | None) -> bool:
    """A placement cim computed in full (a degenerate axis gives NaN: the kernel decides what it means)."""
    return matrix is not None and bool(np.isfinite(matrix).all())


def _operator_key(operator: ifcopenshell.entity_instance, known: dict[int, tuple]) -> tuple:
    """A mapping target by its values: exporters often write one equal operator per occurrence."""
    if (key := known.get(operator.id())) is None:
        key = known[operator.id()] = _operator_values(operator)
    return key


def _operator_values(operator: ifcopenshell.entity_instance) -> tuple:
    directions = (attribute(operator, name) for name in ("Axis1", "Axis2", "Axis3"))
    origin = value(operator, "LocalOrigin")
    return (operator.is_a(), *(tuple(value(d, "DirectionRatios")) if d is not None else None for d in directions),
            tuple(value(origin, "Coordinates")) if origin is not None else None,
            *(attribute(operator, name) for name in ("Scale", "Scale2", "Scale3")))


def _single_mapped_body(product: ifcopenshell.entity_instance):
    """The product's one IfcMappedItem when its only Body (or Facetation) representation is that item and
    its other representations are ones the kernel leaves out; else None."""
    shape = attribute(product, "Representation")
    if shape is None:
        return None
    body = None
    for rep in value(shape, "Representations") or ():
        ident = (value(rep, "RepresentationIdentifier") or "").lower()
        if ident in IGNORED_IDENTIFIERS:
            continue
        if ident not in BODY_IDENTIFIERS or body is not None:
            return None
        body = rep
    if body is None:
        return None
    items = value(body, "Items") or ()
    if len(items) != 1 or not items[0].is_a("IfcMappedItem"):
        return None
    item = items[0]
    if value(item, "MappingSource") is None or value(item, "MappingTarget") is None:
        return None
    return item

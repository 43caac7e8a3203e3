"""Which products a revision touched, from the lines that changed since the previous version.

With the same layout as the previous file (``cim.ingest.line_index``), the changed lines are the edited
entities. A product's mesh depends on what it reaches by reference (placement chain, representation,
shared type maps), so the products to mesh again are those that reach a changed line: found by climbing the
reference graph from the changed lines up to the first product. Everything else the version stores (every
other product's rows, relationships, properties) is the previous version's, so the plan is refused, and the
file ingested in full, when an edit could reach more than geometry:

- a changed entity is itself an IfcRoot (a product's name, a relationship, a property set, a type);
- the climb reaches an IfcRoot that is not a product (a type object, a property set, the project), a
  spatial element (storey heights and building outlines follow it), a representation context or
  georeferencing entity, or nothing at all (an opening or projection it reaches is redone with its host);
- more than a quarter of the products (and more than 64) are reached: meshing them all is then as quick.

The products to redo are meshed from a small file of their entities and what georeferences them
(``Revision.text``); ``cim.ingest.revise`` checks that its georeferencing and geometry salt are the previous
version's before using anything meshed from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import ifcopenshell.ifcopenshell_wrapper as wrapper
import numpy as np

from cim.ifc.integrity import range_positions
from cim.ingest.line_index import FileLines, LineIndex, numbers, type_name, unique

MAX_SHARE = 0.25
_FEW = 64  # products always worth meshing the short way, whatever their share of a small model
_HASH, _EQUALS = 35, 61
OTHER, PRODUCT, FEATURE, SPATIAL, ROOT, FRAME, PROJECT, FEATURE_REL = range(8)
_FRAME_TYPES = ("IfcRepresentationContext", "IfcCoordinateOperation", "IfcCoordinateReferenceSystem")
_FEATURE_RELS = ("IfcRelVoidsElement", "IfcRelProjectsElement")
_REFUSED = {FEATURE: "an opening or projection", SPATIAL: "a spatial element", ROOT: "an IfcRoot entity",
            FRAME: "a representation context or georeferencing entity", PROJECT: "the IfcProject",
            FEATURE_REL: "an opening relationship"}


@dataclass
class Revision:
    """The products to mesh again and a file holding what they need."""

    products: list[int]  # STEP ids
    text: bytes  # a STEP file: header, their entities' closure, the project, spatial and georeferencing
    changed: int  # entity lines that changed


def plan_revision(new: FileLines, old: LineIndex, schema: str, max_share: float = MAX_SHARE) -> Revision | str:
    """The revision's plan, or why the file must be ingested in full."""
    if new.index.layout != old.layout:
        return "entities were added, removed, renumbered or reordered since the previous version"
    changed = new.changed
    if changed is None:
        changed = np.flatnonzero(np.frombuffer(new.index.hashes, np.uint64) != np.frombuffer(old.hashes, np.uint64))
    kinds = _kinds(new, schema)
    if (bad := changed[kinds[changed] != OTHER]).size:
        return _why(new, kinds, bad[0], "changed", schema)
    edges = references(new)
    if edges is None:
        return "a line defines more than one entity"
    src, dst = edges
    affected = _climb(changed, src, dst, kinds)
    if isinstance(affected, tuple):
        return _why(new, kinds, *affected, schema)
    n_products = int(np.isin(kinds, (PRODUCT, FEATURE, SPATIAL)).sum())
    if len(affected) > max(max_share * n_products, _FEW):
        return f"{len(affected)} of {n_products} products changed"
    keep = _closure(_seeds(affected, kinds, src, dst), src, dst, len(new.starts))
    text = new.header + b"\n".join([new.line(i) for i in keep.tolist()]) + b"\nENDSEC;\nEND-ISO-10303-21;\n"
    return Revision(new.ids[affected].tolist(), text, len(changed))


def references(lines: FileLines) -> tuple[np.ndarray, np.ndarray] | None:
    """(line of the referring entity, line of the referred one) for every ``#n`` after a line's own id, or
    None when a line defines a second entity. Why by hand and not a regex: this runs on every revision,
    and numpy reads the ids of the whole text at once. A ``#n`` inside a string counts as a reference: that
    only adds lines to what is redone."""
    arr = np.frombuffer(lines.body, dtype=np.uint8)
    at = np.flatnonzero(arr == _HASH)
    at = at[~np.isin(at, lines.starts, assume_unique=True)]
    values, n_digits = numbers(arr, at + 1)
    after = arr[np.minimum(at + 1 + n_digits, len(arr) - 1)]
    if ((n_digits > 0) & (after == _EQUALS)).any():
        return None
    owner = np.searchsorted(lines.starts, at, side="right") - 1
    order = np.argsort(lines.ids)
    slot = np.minimum(np.searchsorted(lines.ids[order], values), len(order) - 1)
    found = (n_digits > 0) & (lines.ids[order][slot] == values) & (owner >= 0)
    return owner[found], order[slot[found]]


def _climb(changed: np.ndarray, src: np.ndarray, dst: np.ndarray, kinds: np.ndarray) -> np.ndarray | tuple:
    """Lines of the products reaching a changed line, and the hosts of the openings and projections among
    them (a host's mesh is cut by its openings); or (line, why) for the first line that refuses the plan."""
    order = np.argsort(dst, kind="stable")
    parents_of = src[order]
    indptr = np.searchsorted(dst[order], np.arange(len(kinds) + 1))
    counts = indptr[changed + 1] - indptr[changed]
    if (orphan := changed[counts == 0]).size:
        return int(orphan[0]), "changed, reaching no product"
    seen = np.zeros(len(kinds), dtype=bool)
    seen[changed] = True
    products, frontier = [np.zeros(0, np.int64)], changed
    while frontier.size:
        at = indptr[frontier]
        parents = unique(parents_of[range_positions(at, indptr[frontier + 1] - at)])
        parents = parents[~seen[parents]]
        seen[parents] = True
        kind = kinds[parents]
        if (bad := parents[~np.isin(kind, (OTHER, PRODUCT, FEATURE))]).size:
            return int(bad[0]), "reached by a changed line"
        products.append(parents[kind != OTHER])
        frontier = parents[kind == OTHER]
    found = unique(np.concatenate(products))
    features = found[kinds[found] == FEATURE]
    if features.size:  # the relationship naming an opening names its host
        rels = unique(src[np.isin(dst, features) & (kinds[src] == FEATURE_REL)])
        hosts = dst[np.isin(src, rels) & np.isin(kinds[dst], (PRODUCT, FEATURE))]
        found = unique(np.concatenate([found, hosts]))
    return found


def _seeds(affected: np.ndarray, kinds: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The changed products, the project, the spatial structure, the georeferencing entities, and the
    opening and projection relationships of the changed products (their hosts' meshes need them)."""
    model_wide = np.flatnonzero(np.isin(kinds, (SPATIAL, FRAME, PROJECT)))
    rels = np.flatnonzero(kinds == FEATURE_REL)
    rels = unique(src[np.isin(src, rels) & np.isin(dst, affected)])
    return unique(np.concatenate([affected, model_wide, rels]))


def _closure(seeds: np.ndarray, src: np.ndarray, dst: np.ndarray, n_lines: int) -> np.ndarray:
    """Every line the seeds reach by reference (themselves included), in file order."""
    order = np.argsort(src, kind="stable")
    children_of = dst[order]
    indptr = np.searchsorted(src[order], np.arange(n_lines + 1))
    seen = np.zeros(n_lines, dtype=bool)
    seen[seeds] = True
    frontier = seeds
    while frontier.size:
        at = indptr[frontier]
        children = unique(children_of[range_positions(at, indptr[frontier + 1] - at)])
        frontier = children[~seen[children]]
        seen[frontier] = True
    return np.flatnonzero(seen)


def _kinds(lines: FileLines, schema: str) -> np.ndarray:
    """Each line's kind (OTHER, PRODUCT, ...), classified once per entity type."""
    keys = np.ascontiguousarray(lines.types).view(np.dtype((np.void, lines.types.shape[1] * 8))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return np.array([_kind(type_name(lines, int(i)), schema) for i in first], dtype=np.int8)[inverse]


@cache
def _kind(name: str, schema: str) -> int:
    try:
        decl = wrapper.schema_by_name(schema).declaration_by_name(name)
    except (RuntimeError, IndexError):
        return ROOT  # a type the schema does not know: refuse the plan rather than guess
    chain = []
    while decl is not None:
        chain.append(decl.name())
        decl = decl.supertype()
    if chain[0] == "IfcProject":
        return PROJECT
    if chain[0] in _FEATURE_RELS:
        return FEATURE_REL
    if any(t in chain for t in _FRAME_TYPES):
        return FRAME
    if "IfcFeatureElement" in chain:
        return FEATURE
    if "IfcSpatialElement" in chain or "IfcSpatialStructureElement" in chain:
        return SPATIAL
    if "IfcProduct" in chain:
        return PRODUCT
    return ROOT if "IfcRoot" in chain else OTHER


def _why(lines: FileLines, kinds: np.ndarray, line: int, what: str, schema: str) -> str:
    kind = _REFUSED.get(int(kinds[line]), "an entity")
    return f"{kind} (#{int(lines.ids[line])} {_spelled(type_name(lines, line), schema)}) {what}"


@cache
def _spelled(name: str, schema: str) -> str:
    """IFCWALL as the schema spells it: IfcWall."""
    try:
        return wrapper.schema_by_name(schema).declaration_by_name(name).name()
    except (RuntimeError, IndexError):
        return name

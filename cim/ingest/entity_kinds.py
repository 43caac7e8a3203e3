"""What kind of entity each line of a file defines, for the revision diff: a product, an IfcRoot that is not
one (a relationship, a property set, a type), the georeferencing frame, or plain geometry (OTHER).

Classified once per entity type from the schema's inheritance (``ifcopenshell_wrapper``), so an entity type
added by a schema is placed by its supertypes, and one the schema does not know is treated as an IfcRoot
(a revision touching it is ingested in full)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import ifcopenshell.ifcopenshell_wrapper as wrapper
import numpy as np

from cim.ingest.line_index import type_name

if TYPE_CHECKING:
    from cim.ingest.line_index import FileLines

OTHER, PRODUCT, FEATURE, SPATIAL, ROOT, FRAME, PROJECT, FEATURE_REL = range(8)
_FRAME_TYPES = ("IfcRepresentationContext", "IfcCoordinateOperation", "IfcCoordinateReferenceSystem")
_FEATURE_RELS = ("IfcRelVoidsElement", "IfcRelProjectsElement")
ROOTED = (PRODUCT, FEATURE, SPATIAL, ROOT, PROJECT, FEATURE_REL)


def kinds(lines: FileLines, schema: str) -> np.ndarray:
    """Each line's kind (OTHER, PRODUCT, ...), classified once per entity type (and kept on ``lines``)."""
    if lines.kinds is None:
        first, inverse = _distinct_types(lines.types)
        lines.kinds = np.array([kind(type_name(lines, int(i)), schema) for i in first], dtype=np.int8)[inverse]
    return lines.kinds


def _distinct_types(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a line of each distinct type, each line's type number). The rows are folded into one integer, whose
    few distinct values numpy finds by hashing, and each line is numbered by a search among them (a sort of
    every line for the inverse took twice as long); a fold that would merge two names is caught by comparing
    every row with its type's, and then the rows are sorted whole."""
    with np.errstate(over="ignore"):
        folded = np.zeros(len(words), dtype=np.uint64)
        for column in words.T:
            folded = (folded ^ column) * np.uint64(0x100000001B3)
    distinct = np.unique(folded)
    inverse = np.searchsorted(distinct, folded)
    first = np.empty(len(distinct), dtype=np.int64)
    first[inverse] = np.arange(len(folded))  # a line of each type (which one does not matter)
    if (words[first][inverse] == words).all():
        return first, inverse
    keys = np.ascontiguousarray(words).view(np.dtype((np.void, words.shape[1] * 8))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return first, inverse


@cache
def kind(name: str, schema: str) -> int:
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


@cache
def spelled(name: str, schema: str) -> str:
    """IFCWALL as the schema spells it: IfcWall."""
    try:
        return wrapper.schema_by_name(schema).declaration_by_name(name).name()
    except (RuntimeError, IndexError):
        return name

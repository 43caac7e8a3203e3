"""Digests by value of every entity of a file at once, level by level up the reference graph.

A Merkle digest like ``cim.ingest.geometry_key.GraphDigests``' (an entity's text with each reference standing
for the digest of what it refers to; the values differ, entities get equal digests exactly where those give
equal ones), computed without recursing per entity: the file's text is
masked once (references out, strings kept), and the entities are hashed in order of their height in the
reference graph (``cim.ifc.integrity.reference_depth``), each level gathering its children's digests with
numpy. What is left per entity is one BLAKE2b call, so the keys of a 10,000-product model take a fraction of
a second instead of a pass of recursive Python per entity.

It needs one entity per line (what writers almost always produce); for any other layout, or a file whose ids
repeat, :func:`file_digests` returns None and the caller uses ``GraphDigests``.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import ifcopenshell
import numpy as np

from cim.ifc.integrity import ReferenceDepth, range_positions

# A string (kept) or a reference (kept as a bare '#'); a definition's '#id' starts its line and is not masked.
_MASK = re.compile(rb"('(?:[^']|'')*')|(?<!\n)(#)\d+")
_STRING = re.compile(rb"'(?:[^']|'')*'")
_REFERENCE = re.compile(rb"(?<!\n)#\d+")
_DEFINITION = re.compile(rb"^#(\d+)[ \t]*=[ \t]*(.*);[ \t\r]*$", re.M)
_WIDTH = 16  # bytes of digest: BLAKE2b-128
_DANGLING = b"?"  # the text of an entity that is referred to but not in the file: its absence is its value


class FileDigests:
    """Hex digest of any entity of one file, as ``GraphDigests.of`` gives it."""

    def __init__(self, ids: np.ndarray, digests: np.ndarray, known: np.ndarray):
        self._ids, self._digests, self._known = ids, digests, known

    def of(self, entity: ifcopenshell.entity_instance | None) -> str:
        return self.of_all([entity])[0]

    def of_all(self, entities: list[ifcopenshell.entity_instance | None]) -> list[str]:
        """Each entity's digest ("-" for none; "<cycle>" on or above a reference cycle, whose products are
        refused before meshing), with one sorted search for all: a search per entity was most of the time of a
        10,000-product model's keys, which its parse computes while the workers mesh, on a core they share."""
        ids = np.array([-1 if e is None else e.id() for e in entities], dtype=np.int64)
        if not len(self._ids):
            return ["-" if e is None else "<cycle>" for e in entities]
        at = np.minimum(np.searchsorted(self._ids, ids), len(self._ids) - 1)
        found = ((self._ids[at] == ids) & self._known[at]).tolist()
        text = self._digests[at].tobytes().hex()
        width = 2 * _WIDTH
        return ["-" if e is None else text[k * width:(k + 1) * width] if ok else "<cycle>"
                for k, (e, ok) in enumerate(zip(entities, found, strict=True))]


def file_digests(path: str | Path, src: np.ndarray, dst: np.ndarray, n_defined: int,
                 depth: ReferenceDepth) -> FileDigests | None:
    """Every entity's digest, from the file's text and what ``reference_edges`` read of it (each ``#n`` in
    file order, once per occurrence, and the number of definitions), or None when the file is not laid out
    one entity per line."""
    data = Path(path).read_bytes()
    data = data[max(data.find(b"DATA;"), 0):]
    definitions = _DEFINITION.findall(_masked(data))
    del data
    def_ids = np.array([d[0] for d in definitions], dtype=np.int64) if definitions else np.zeros(0, np.int64)
    if len(def_ids) != n_defined or len(np.unique(def_ids)) != len(def_ids):
        return None  # an entity spans lines (its text would be missed) or an id is defined twice
    ids = np.unique(np.concatenate([def_ids, dst]))
    own: list[bytes] = [_DANGLING] * len(ids)
    for p, (_, body) in zip(np.searchsorted(ids, def_ids).tolist(), definitions, strict=True):
        own[p] = body
    del definitions
    height = _heights(ids, depth)
    digests = np.zeros((len(ids), _WIDTH), dtype=np.uint8)
    known = height >= 0
    s, d = np.searchsorted(ids, src), np.searchsorted(ids, dst)
    order = np.argsort(s, kind="stable")  # each entity's references, still in the order it lists them
    children = d[order]
    indptr = np.searchsorted(s[order], np.arange(len(ids) + 1))
    by_level = np.argsort(np.where(known, height, -1), kind="stable")
    levels = np.where(known, height, -1)[by_level]
    bounds = np.searchsorted(levels, np.arange(-1, levels.max(initial=-1) + 2))
    for level in range(len(bounds) - 2):
        rows = by_level[bounds[level + 1]:bounds[level + 2]]
        digests[rows] = _level(rows, own, digests, children, indptr)
    return FileDigests(ids, digests, known)


def _masked(data: bytes) -> bytes:
    """The text with every reference ``#n`` (not a definition) as a bare ``#``, strings unchanged.

    Almost no file has a '#' inside a string; for those that have none, a literal replacement over the whole
    text gives the same result several times faster than keeping strings aside (which expands a template
    per match in Python)."""
    if not any(b"#" in text for text in _STRING.findall(data)):
        return _REFERENCE.sub(b"#", data)
    return _MASK.sub(rb"\1\2", data)


def _heights(ids: np.ndarray, depth: ReferenceDepth) -> np.ndarray:
    """Each id's height in the reference graph (-1: on or above a cycle); an entity no reference touches is 0."""
    out = np.zeros(len(ids), np.int64)
    if len(depth.ids):
        at = np.minimum(np.searchsorted(depth.ids, ids), len(depth.ids) - 1)
        hit = depth.ids[at] == ids
        out[hit] = depth.height[at[hit]]
    return out


def _level(rows: np.ndarray, own: list[bytes], digests: np.ndarray, children: np.ndarray,
           indptr: np.ndarray) -> np.ndarray:
    """Digests of entities whose children all have theirs: BLAKE2b of (text length, text, children's digests)."""
    counts = indptr[rows + 1] - indptr[rows]
    buffer = digests[children[range_positions(indptr[rows], counts)]].tobytes()
    ends = (np.cumsum(counts) * _WIDTH).tolist()
    out, begin = [], 0
    blake = hashlib.blake2b
    for row, end in zip(rows.tolist(), ends, strict=True):
        text = own[row]
        out.append(blake(b"%d:" % len(text) + text + buffer[begin:end], digest_size=_WIDTH).digest())
        begin = end
    return np.frombuffer(b"".join(out), dtype=np.uint8).reshape(-1, _WIDTH)

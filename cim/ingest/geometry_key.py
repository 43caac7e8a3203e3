"""A content hash of what shapes each product's mesh, read from the STEP graph before tessellating.

A new version of a model mostly repeats the previous one: only products whose key changed need the
geometry kernel (see ``cim.ingest.reuse``). The key covers, by value (STEP ids change between exports):

- the product's class and its whole Representation subgraph (shape representations, items, profiles,
  mapped representation maps shared by a type: a change to the map changes every instance's key,
  and the representation contexts);
- its placement chain (every IfcLocalPlacement / IfcAxis2Placement up to the root, or a grid placement);
- the openings that void it and the elements projecting from it (the kernel cuts and adds them);
- a salt for the whole model: georeferencing, length unit, schema, the ingest settings and the versions
  of cim and the geometry kernel (a new kernel may mesh the same input differently).

Each entity's digest is a Merkle hash: the SHA-1 of its STEP text with every ``#id`` replaced by the
digest of the entity it refers to (see ``GraphDigests``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import ifcopenshell

from cim import __version__
from cim.georef import Georef
from cim.ifc.attribute import attribute

if TYPE_CHECKING:
    from cim.ingest.file_digests import FileDigests

_TOKEN = re.compile(rb"'(?:[^']|'')*'|#(\d+)")  # a quoted string (left as is) or a reference
# one entity on one line, as writers almost always put it; others are serialised by ifcopenshell instead
_LINE = re.compile(rb"^#(\d+)[ \t]*=[ \t]*(.*);[ \t\r]*$", re.M)
_CYCLE = b"<cycle>"


class GraphDigests:
    """Digests by value of the entities of one parsed file, memoised per entity.

    Why a Merkle hash rather than serialising each product's subgraph: the entities products share
    (directions, contexts, a storey's placement chain, a type's representation map) are hashed once for
    the whole file instead of once per product, so the cost is one pass over the geometry entities.
    Identical subgraphs under different STEP ids get the same digest, as they mesh the same.
    """

    def __init__(self, model: ifcopenshell.file, path: str | Path | None = None):
        self.model = model
        self._memo: dict[int, bytes] = {}
        self._active: set[int] = set()
        # the file's own text of each entity: several times cheaper than serialising it again
        self.lines: dict[int, bytes] = {}
        if path is not None:
            data = Path(path).read_bytes()
            start = data.find(b"DATA;")
            self.lines = {int(i): body for i, body in _LINE.findall(data, max(start, 0))}

    def _text(self, step_id: int) -> bytes:
        line = self.lines.get(step_id)
        if line is not None:
            return line
        try:
            return self.model.by_id(step_id).__str__().partition("=")[2].encode()
        except RuntimeError:  # not in the file (a dangling reference): its absence is part of the value
            return b"?"

    def digest(self, step_id: int) -> bytes:
        """The hex digest of entity ``#step_id`` and everything it refers to (recursion is bounded: products
        that reach deeper than ``cim.ifc.integrity.MAX_DEPTH`` are refused before their keys are computed)."""
        got = self._memo.get(step_id)
        if got is not None:
            return got
        if step_id in self._active:  # a reference cycle: hashed as a marker instead of recursing forever
            return _CYCLE
        self._active.add(step_id)
        text = _TOKEN.sub(self._substitute, self._text(step_id))
        self._active.discard(step_id)
        got = self._memo[step_id] = hashlib.sha1(text).hexdigest().encode()
        return got

    def _substitute(self, match: re.Match) -> bytes:
        ref = match.group(1)
        return match.group(0) if ref is None else b"#" + self.digest(int(ref))

    def of(self, entity: ifcopenshell.entity_instance | None) -> str:
        return "-" if entity is None else self.digest(entity.id()).decode()

    def of_all(self, entities: list[ifcopenshell.entity_instance | None]) -> list[str]:
        return [self.of(e) for e in entities]


def model_salt(*, georef: Georef, unit_scale: float, schema: str, settings_hash: str) -> str:
    """What shapes every mesh of the model besides its own entities (floats by their exact repr)."""
    frame = {k: v for k, v in dataclasses.asdict(georef).items() if k != "warnings"}
    payload = {"georef": frame, "unit_scale": repr(unit_scale), "schema": schema,
               "settings": settings_hash, "cim": __version__, "kernel": ifcopenshell.version}
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def geometry_input_hashes(model: ifcopenshell.file, products: list[ifcopenshell.entity_instance],
                          salt: str, path: str | Path | None = None, *,
                          digests: GraphDigests | FileDigests | None = None) -> dict[int, str]:
    """STEP id -> geometry input hash of each product (see the module docstring); ``path`` is the file
    ``model`` was read from, whose text is hashed where it has one entity per line. Pass ``digests`` to
    share the memoised entity digests between calls on the same file, or the whole file's
    (``cim.ingest.file_digests``)."""
    digests = digests if digests is not None else GraphDigests(model, path)
    features = _features(model)
    out = {}
    salted = hashlib.sha1(salt.encode())
    for product, own in zip(products, _own_all(digests, products), strict=True):
        h = salted.copy()
        h.update(product.is_a().encode())
        h.update(own.encode())
        # the kernel cuts every opening and adds every projection: their order in the file does not matter
        for part in sorted(sign + _own(digests, f) for sign, f in features.get(product.id(), ())):
            h.update(part.encode())
        out[product.id()] = h.hexdigest()
    return out


def _own_all(digests: GraphDigests | FileDigests, products: list[ifcopenshell.entity_instance]) -> list[str]:
    """``_own`` of each product; a whole file's digests look them all up at once (``FileDigests.of_all``)."""
    reps = digests.of_all([attribute(p, "Representation") for p in products])
    places = digests.of_all([attribute(p, "ObjectPlacement") for p in products])
    return [f"{r}:{q}" for r, q in zip(reps, places, strict=True)]


def _own(digests: GraphDigests | FileDigests, product: ifcopenshell.entity_instance | None) -> str:
    """The product's representation and its placement (the placement's digest covers the chain it is
    relative to, every link by value)."""
    if product is None:
        return "-"
    return (digests.of(getattr(product, "Representation", None)) + ":"
            + digests.of(getattr(product, "ObjectPlacement", None)))
def _features(model: ifcopenshell.file) -> dict[int, list[tuple[str, ifcopenshell.entity_instance]]]:
    """Host STEP id -> its openings ('-') and projections ('+'), from the relationships (one pass)."""
    out: dict[int, list] = {}
    for rel_type, sign, host_attr, attr in (
            ("IfcRelVoidsElement", "-", "RelatingBuildingElement", "RelatedOpeningElement"),
            ("IfcRelProjectsElement", "+", "RelatingElement", "RelatedFeatureElement")):
        try:
            rels = model.by_type(rel_type)
        except RuntimeError:  # not in this schema
            continue
        for rel in rels:
            host = getattr(rel, host_attr, None)
            if host is not None:
                out.setdefault(host.id(), []).append((sign, getattr(rel, attr, None)))
    return out

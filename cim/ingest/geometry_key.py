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

Each entity's digest is its STEP text with every ``#id`` replaced by the digest of the entity it refers
to, computed once per entity however many products share it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re

import ifcopenshell

from cim import __version__
from cim.georef import Georef

_TOKEN = re.compile(r"'(?:[^']|'')*'|#(\d+)")  # a quoted string (left as is) or a reference


class GraphDigests:
    """Digest by value of entities of one parsed file, memoised (shared subgraphs are hashed once)."""

    def __init__(self, model: ifcopenshell.file):
        self.model = model
        self.memo: dict[int, str] = {}

    def of(self, entity: ifcopenshell.entity_instance | None) -> str:
        if entity is None:
            return "-"
        root = entity.id()
        if root in self.memo:
            return self.memo[root]
        # iterative post-order: a deep boolean tree or placement chain must not hit the recursion limit
        stack: list[tuple[int, str | None]] = [(root, None)]
        bodies: dict[int, str] = {}
        while stack:
            ident, body = stack.pop()
            if ident in self.memo:
                continue
            if body is None:
                text = self.model.by_id(ident).__str__()
                body = text[text.index("=") + 1:]
                bodies[ident] = body
                stack.append((ident, body))
                for m in _TOKEN.finditer(body):
                    ref = m.group(1)
                    if ref is not None and int(ref) not in self.memo and int(ref) not in bodies:  # no cycles
                        stack.append((int(ref), None))
                continue
            self.memo[ident] = hashlib.sha1(_TOKEN.sub(self._ref, body).encode()).hexdigest()
        return self.memo[root]

    def _ref(self, match: re.Match) -> str:
        ref = match.group(1)
        return match.group(0) if ref is None else "@" + self.memo.get(int(ref), "?")


def model_salt(*, georef: Georef, unit_scale: float, schema: str, settings_hash: str) -> str:
    """What shapes every mesh of the model besides its own entities (floats by their exact repr)."""
    frame = {k: v for k, v in dataclasses.asdict(georef).items() if k != "warnings"}
    payload = {"georef": frame, "unit_scale": repr(unit_scale), "schema": schema,
               "settings": settings_hash, "cim": __version__, "kernel": ifcopenshell.version}
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def geometry_input_hashes(model: ifcopenshell.file, products: list[ifcopenshell.entity_instance],
                          salt: str) -> dict[int, str]:
    """STEP id -> geometry input hash of each product (see the module docstring)."""
    digests = GraphDigests(model)
    out = {}
    for product in products:
        h = hashlib.sha1(salt.encode())
        h.update(product.is_a().encode())
        h.update(_own(digests, product).encode())
        # the kernel cuts every opening and adds every projection: their order in the file does not matter
        for part in sorted("-" + _own(digests, r.RelatedOpeningElement) for r in _rels(product, "HasOpenings")):
            h.update(part.encode())
        for part in sorted("+" + _own(digests, r.RelatedFeatureElement) for r in _rels(product, "HasProjections")):
            h.update(part.encode())
        out[product.id()] = h.hexdigest()
    return out


def _own(digests: GraphDigests, product: ifcopenshell.entity_instance | None) -> str:
    if product is None:
        return "-"
    return (digests.of(getattr(product, "Representation", None)) + ":"
            + digests.of(getattr(product, "ObjectPlacement", None)))


def _rels(product: ifcopenshell.entity_instance, inverse: str) -> tuple:
    """The product's relationships of one inverse attribute (absent in schemas without it)."""
    try:
        return tuple(getattr(product, inverse, None) or ())
    except (AttributeError, RuntimeError):
        return ()

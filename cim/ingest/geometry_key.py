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

A subgraph's digest is the STEP text of its entities with every ``#id`` replaced by the entity's position
in an attribute-ordered traversal from its root (see ``GraphDigests``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path

import ifcopenshell

from cim import __version__
from cim.georef import Georef

_TOKEN = re.compile(rb"'(?:[^']|'')*'|#(\d+)")  # a quoted string (left as is) or a reference
# one entity on one line, as writers almost always put it; others are serialised by ifcopenshell instead
_LINE = re.compile(rb"^#(\d+)[ \t]*=[ \t]*(.*);[ \t\r]*$", re.M)


class GraphDigests:
    """Digests by value of subgraphs of one parsed file.

    A subgraph is hashed as the STEP text of its entities in the (deterministic, attribute-ordered) order
    the kernel's ``traverse`` visits them, each ``#id`` replaced by its position in that order. Placement
    chains are hashed link by link and memoised: every product of a storey shares its parents.
    """

    def __init__(self, model: ifcopenshell.file, path: str | Path | None = None):
        self.model = model
        self.placements: dict[int, str] = {}
        # the file's own text of each entity: several times cheaper than serialising it again
        self.lines: dict[int, bytes] = {}
        if path is not None:
            data = Path(path).read_bytes()
            start = data.find(b"DATA;")
            self.lines = {int(i): body for i, body in _LINE.findall(data, max(start, 0))}

    def _text(self, entity: ifcopenshell.entity_instance) -> bytes:
        line = self.lines.get(entity.id())
        return line if line is not None else entity.__str__().partition("=")[2].encode()

    def of(self, entity: ifcopenshell.entity_instance | None) -> str:
        if entity is None:
            return "-"
        entities = self.model.traverse(entity)
        local = {str(e.id()).encode(): b"#%d" % k for k, e in enumerate(entities)}
        text = b"\n".join([self._text(e) for e in entities])
        return hashlib.sha1(_TOKEN.sub(lambda m: m.group(0) if m.group(1) is None else local.get(m.group(1), b"?"),
                                       text)).hexdigest()

    def placement(self, placement: ifcopenshell.entity_instance | None) -> str:
        """A placement and every placement it is relative to, up to the root."""
        chain = []
        while placement is not None and placement.id() not in self.placements:
            chain.append(placement)
            if len(chain) > 10_000 or not placement.is_a("IfcLocalPlacement"):
                break
            placement = placement.PlacementRelTo
        parent = self.placements.get(placement.id(), "-") if placement is not None else "-"
        for link in reversed(chain):
            # a grid or linear placement: its whole subgraph
            own = link.is_a() + self.of(link.RelativePlacement) if link.is_a("IfcLocalPlacement") else self.of(link)
            parent = hashlib.sha1((parent + own).encode()).hexdigest()
            self.placements[link.id()] = parent
        return parent


def model_salt(*, georef: Georef, unit_scale: float, schema: str, settings_hash: str) -> str:
    """What shapes every mesh of the model besides its own entities (floats by their exact repr)."""
    frame = {k: v for k, v in dataclasses.asdict(georef).items() if k != "warnings"}
    payload = {"georef": frame, "unit_scale": repr(unit_scale), "schema": schema,
               "settings": settings_hash, "cim": __version__, "kernel": ifcopenshell.version}
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def geometry_input_hashes(model: ifcopenshell.file, products: list[ifcopenshell.entity_instance],
                          salt: str, path: str | Path | None = None) -> dict[int, str]:
    """STEP id -> geometry input hash of each product (see the module docstring); ``path`` is the file
    ``model`` was read from, whose text is hashed where it has one entity per line."""
    digests = GraphDigests(model, path)
    features = _features(model)
    out = {}
    for product in products:
        h = hashlib.sha1(salt.encode())
        h.update(product.is_a().encode())
        h.update(_own(digests, product).encode())
        # the kernel cuts every opening and adds every projection: their order in the file does not matter
        for part in sorted(sign + _own(digests, f) for sign, f in features.get(product.id(), ())):
            h.update(part.encode())
        out[product.id()] = h.hexdigest()
    return out


def _own(digests: GraphDigests, product: ifcopenshell.entity_instance | None) -> str:
    if product is None:
        return "-"
    return (digests.of(getattr(product, "Representation", None)) + ":"
            + digests.placement(getattr(product, "ObjectPlacement", None)))


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

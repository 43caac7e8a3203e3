"""The key every product is stored under: its GlobalId, made unique when the file's is not.

Real exporters write duplicate GlobalIds, and some write empty ones. Keying rows by the raw GlobalId
lets a later product overwrite an earlier one (its mesh stays, its row vanishes, relations link an
element to itself). So every product gets a key, and the rule is documented in schemas/tables.toml:

- a valid GlobalId used by one product: the GlobalId itself;
- a GlobalId used by several products: the first one (lowest STEP id) keeps it, each later one is
  stored as ``GlobalId#STEPID`` (e.g. ``3YUiMOVi98T8RuTdrYi6As#90``), flagged ``duplicate``;
- an empty or null GlobalId: ``#STEPID``, flagged ``missing``;
- a GlobalId that is not 22 IFC base-64 characters (0-9, A-Z, a-z, _ and $): kept (it is unique),
  flagged ``invalid``.

The STEP id is stable for one file; a re-export renumbers it, as it usually re-issues the ids anyway.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import ifcopenshell

from cim.ifc.attribute import attribute, value

GLOBAL_ID = re.compile(r"^[0-9A-Za-z_$]{22}$")


@dataclass
class Identity:
    """Product keys by STEP id, with the problems found (STEP id -> duplicate | missing | invalid)."""

    keys: dict[int, str] = field(default_factory=dict)
    issues: dict[int, str] = field(default_factory=dict)
    first: dict[str, int] = field(default_factory=dict)  # duplicated GlobalId -> STEP id that keeps it

    def key(self, entity: ifcopenshell.entity_instance) -> str:
        """The stored key of a product (or any rooted entity: non-products keep their GlobalId)."""
        key = self.keys.get(entity.id())
        if key is not None:
            return key
        gid = attribute(entity, "GlobalId")
        return gid if gid else f"#{entity.id()}"


def product_identity(model: ifcopenshell.file) -> Identity:
    """Keys for every IfcProduct of ``model``; see the module docstring for the rule."""
    out = Identity()
    products = sorted(model.by_type("IfcProduct"), key=lambda p: p.id())
    seen: dict[str, int] = {}
    for p in products:
        gid = value(p, "GlobalId")
        if not gid or not str(gid).strip():
            out.keys[p.id()] = f"#{p.id()}"
            out.issues[p.id()] = "missing"
        elif gid in seen:
            out.keys[p.id()] = f"{gid}#{p.id()}"
            out.issues[p.id()] = "duplicate"
            out.first.setdefault(gid, seen[gid])
        else:
            seen[gid] = p.id()
            out.keys[p.id()] = gid
            if not GLOBAL_ID.match(gid):
                out.issues[p.id()] = "invalid"
    return out


def identity_warnings(model: ifcopenshell.file, identity: Identity) -> list[tuple[str, str]]:
    """(stored key, one-line message) per product whose GlobalId had to be disambiguated or is invalid."""
    out = []
    for step_id, issue in sorted(identity.issues.items()):
        el = model.by_id(step_id)
        key = identity.keys[step_id]
        what = f"{el.is_a()} #{step_id}"
        if issue == "duplicate":
            first = model.by_id(identity.first[el.GlobalId])
            msg = (f"{what} has GlobalId {el.GlobalId}, already used by {first.is_a()} #{first.id()}: stored as "
                   f"{key} (give every product its own GlobalId in the authoring tool)")
        elif issue == "missing":
            msg = f"{what} has no GlobalId: stored as {key} (give every product a GlobalId in the authoring tool)"
        else:
            msg = (f"{what} has GlobalId {el.GlobalId!r}, which is not 22 IFC base-64 characters (0-9, A-Z, a-z, "
                   f"_, $): stored as given (fix the exporter)")
        out.append((key, msg))
    for root in model.by_type("IfcRoot"):  # the project, types, groups: reported, not stored as elements
        if root.id() in identity.keys:  # a product: reported above (and reading its GlobalId costs)
            continue
        gid = root.GlobalId
        if gid and not GLOBAL_ID.match(gid):
            out.append((gid, f"{root.is_a()} #{root.id()} has GlobalId {gid!r}, which is not 22 IFC base-64 "
                             f"characters (0-9, A-Z, a-z, _, $) (fix the exporter)"))
    return out

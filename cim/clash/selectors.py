"""Rule selectors: which elements a rule side applies to, matched on the columns of ``elements``."""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import ifcopenshell.ifcopenshell_wrapper as wrapper

from cim.errors import ConfigError

KEYS = ("classes", "exclude_classes", "models", "phases", "systems", "names", "predefined_types", "properties")
ALIASES = {"IfcBuildingElement": "IfcBuiltElement", "IfcBuildingElementProxy": "IfcBuildingElementProxy"}
SCHEMAS = ("IFC4X3_ADD2", "IFC4", "IFC2X3")


@lru_cache(maxsize=4096)
def ancestors(ifc_class: str) -> frozenset[str]:
    """The class and all its supertypes, across IFC2X3, IFC4 and IFC4X3 (so old and new names both match)."""
    found: set[str] = {ifc_class}
    for schema in SCHEMAS:
        try:
            decl = wrapper.schema_by_name(schema).declaration_by_name(ifc_class)
        except RuntimeError:
            continue
        while decl is not None:
            found.add(decl.name())
            decl = decl.supertype()
    found |= {alias for alias, name in ALIASES.items() if name in found}
    found |= {ALIASES[n] for n in list(found) if n in ALIASES}
    return frozenset(found)


def is_a(ifc_class: str, wanted: tuple[str, ...]) -> bool:
    return not ancestors(ifc_class).isdisjoint(wanted)


def _globs(patterns: tuple[str, ...], value: str | None) -> bool:
    """OR over patterns; a pattern starting with ! excludes. Only exclusions: anything else matches."""
    value = (value or "").lower()
    positive = [p for p in patterns if not p.startswith("!")]
    if any(fnmatch.fnmatchcase(value, p[1:].lower()) for p in patterns if p.startswith("!")):
        return False
    return not positive or any(fnmatch.fnmatchcase(value, p.lower()) for p in positive)


@dataclass(frozen=True)
class Selector:
    classes: tuple[str, ...] = ()
    exclude_classes: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    phases: tuple[str, ...] = ()
    systems: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    predefined_types: tuple[str, ...] = ()
    properties: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, raw: Any, path: Path, where: str) -> Selector:
        if not isinstance(raw, dict):
            raise ConfigError(path, f"{where} must be a table like {{ classes = [\"IfcWall\"] }}", "fix the selector")
        unknown = sorted(set(raw) - set(KEYS))
        if unknown:
            raise ConfigError(path, f"{where}: unknown selector key {', '.join(unknown)}", f"use {', '.join(KEYS)}")
        values: dict[str, tuple] = {}
        for key in KEYS[:-1]:
            val = raw.get(key, ())
            val = (val,) if isinstance(val, str) else tuple(val)
            if not all(isinstance(v, str) for v in val):
                raise ConfigError(path, f"{where}.{key} must be a list of strings", "quote the values")
            values[key] = val
        for key in ("classes", "exclude_classes"):
            bad = [c for c in values[key] if not _known_class(c)]
            if bad:
                raise ConfigError(path, f"{where}.{key}: {', '.join(bad)} is not an IFC class",
                                  "spell it as in the IFC schema, e.g. IfcPipeSegment")
        props = raw.get("properties", {})
        if not isinstance(props, dict) or any("." not in k for k in props):
            raise ConfigError(path, f"{where}.properties must map \"Pset.Property\" to a value", "fix the key")
        return cls(**values, properties=tuple(sorted((k, str(v)) for k, v in props.items())))

    def matches(self, row: dict) -> bool:
        """True when the element row (a dict of ``elements`` columns plus ``phase``) is selected."""
        cls = row["ifc_class"]
        if self.classes and not is_a(cls, self.classes):
            return False
        if self.exclude_classes and is_a(cls, self.exclude_classes):
            return False
        if self.models and not _globs(self.models, row.get("model_id")):
            return False
        if self.phases and (row.get("phase") or "") not in self.phases:
            return False
        if self.names and not _globs(self.names, row.get("name")):
            return False
        if self.predefined_types and (row.get("predefined_type") or "").upper() not in \
                {p.upper() for p in self.predefined_types}:
            return False
        if self.systems and not any(_globs(self.systems, s) for s in row.get("systems") or [None]):
            return False
        return not self.properties or all(_prop(row, k) == v.lower() for k, v in self.properties)


def _prop(row: dict, key: str) -> str | None:
    psets = row.get("psets")
    if isinstance(psets, str):
        psets = row["psets"] = json.loads(psets) if psets else {}
    pset, _, prop = key.partition(".")
    value = (psets or {}).get(pset, {}).get(prop)
    return None if value is None else str(value).lower()


@lru_cache(maxsize=1024)
def _known_class(name: str) -> bool:
    return len(ancestors(name)) > 1 or any(_declared(s, name) for s in SCHEMAS)


def _declared(schema: str, name: str) -> bool:
    try:
        wrapper.schema_by_name(schema).declaration_by_name(name)
        return True
    except RuntimeError:
        return False

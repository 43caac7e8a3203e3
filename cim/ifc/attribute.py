"""Attributes of IFC entities read by their position in the entity, which ifcopenshell looks up once per type.

``entity.Name`` asks ifcopenshell for the attribute's category and index by name, then for the value: 1.4 us for
a string, 1.8 us for a reference, where ``entity.get_argument(index)`` alone takes 0.2-0.6 us. A product's row,
placement and mesh grouping read some thirty attributes, so the per-name lookups were a fifth of a worker's time.
Here the index of each (schema, entity type, attribute name) is asked once and kept (``get_argument`` is what
``entity_instance.__getattr__`` itself returns for a forward attribute, so the values are the same objects).
Inverse and derived attributes still go through ``getattr``.

``attribute``: for an attribute an entity's type may not have. ``getattr(entity, "PredefinedType", None)`` on a
type without it (an IFC2X3 wall, an IFC4 projected CRS's ``WellKnownText``) does not just return the default:
ifcopenshell first looks for a derived attribute of that name, importing the schema's rule module the first
time (35 ms) and walking the supertypes each time (34 us). ``value``: for one the schema says it has; on an
entity of another type (a damaged file's reference to the wrong entity) it raises ifcopenshell's AttributeError.
"""

from __future__ import annotations

from typing import Any

import ifcopenshell

_INVALID, _FORWARD = 0, 1  # ifcopenshell's attribute categories (2: inverse, 3: derived)
_OTHER, _MISSING = -1, -2  # slots for an inverse or derived attribute, and for a name the type does not have
_slots: dict[tuple[str, str], int] = {}


def _slot(entity: ifcopenshell.entity_instance, name: str) -> int:
    key = (entity.is_a(True), name)
    slot = _slots.get(key)
    if slot is None:
        category = entity.get_attribute_category(name)
        slot = _slots[key] = (entity.get_argument_index(name) if category == _FORWARD
                              else _MISSING if category == _INVALID else _OTHER)
    return slot


def attribute(entity: ifcopenshell.entity_instance | None, name: str, default: Any = None) -> Any:
    """``entity.<name>`` when the entity's type has that attribute (forward, inverse or derived) and it is
    set, else ``default`` (also for no entity)."""
    if entity is None:
        return default
    slot = _slot(entity, name)
    if slot >= 0:
        value = entity.get_argument(slot)
    elif slot == _MISSING:
        return default
    else:
        value = getattr(entity, name)
    return default if value is None else value


def value(entity: ifcopenshell.entity_instance, name: str) -> Any:
    """``entity.<name>``, the same value or the same AttributeError, without ifcopenshell's lookups by name."""
    slot = _slot(entity, name)
    if slot >= 0:
        return entity.get_argument(slot)
    if slot == _MISSING:
        raise AttributeError(f"entity instance of type '{entity.is_a(True)}' has no attribute '{name}'")
    return getattr(entity, name)

"""An attribute that an entity's type may not have, read without ifcopenshell's fallback for unknown names.

``getattr(entity, "PredefinedType", None)`` on a type without that attribute (an IFC2X3 wall, an IFC4
projected CRS's ``WellKnownText``) does not just return the default: ifcopenshell first looks for a derived
attribute of that name, importing the schema's rule module the first time (35 ms) and walking the supertypes
each time (34 us, 15 times a present attribute). Asking the attribute's category first costs 0.3 us.
"""

from __future__ import annotations

from typing import Any

import ifcopenshell

_NOT_AN_ATTRIBUTE = 0  # ifcopenshell's INVALID attribute category


def attribute(entity: ifcopenshell.entity_instance | None, name: str, default: Any = None) -> Any:
    """``entity.<name>`` when the entity's type has that attribute (forward, inverse or derived) and it is
    set, else ``default`` (also for no entity)."""
    if entity is None or entity.get_attribute_category(name) == _NOT_AN_ATTRIBUTE:
        return default
    value = getattr(entity, name)
    return default if value is None else value

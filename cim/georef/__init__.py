"""IFC georeferencing: from a model's engineering frame to the city CRS (LoGeoRef 50, or a config placement).

Public API: :func:`resolve_georef`, :func:`placement_georef`, :class:`Georef`; :func:`check_area_of_use`
lets callers re-check real geometry (models whose map conversion has zero offsets carry absolute coordinates).
"""

from cim.georef.model import Georef
from cim.georef.resolve import check_area_of_use, placement_georef, resolve_georef

__all__ = ["Georef", "check_area_of_use", "placement_georef", "resolve_georef"]

"""Kept for existing imports: the exports live in :mod:`cim.gis_export`."""

from cim.gis_export.geoparquet import current_table, export_geoparquet, to_geodataframe

__all__ = ["current_table", "export_geoparquet", "to_geodataframe"]

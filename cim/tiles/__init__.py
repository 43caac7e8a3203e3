"""3-D exports of the city: OGC 3D Tiles 1.1 (``export_tileset``) and CityJSON.

Every IFC element with a mesh becomes a feature of a GLB tile (EXT_mesh_features feature ids) with its
metadata in an EXT_structural_metadata property table (global_id, model_id, version, phase, ifc_class,
name, storey, systems and the link key model_id/version/global_id); context buildings of the GIS layer
``buildings_existing`` are extruded LoD1 blocks. See :mod:`cim.tiles.export`.
"""

from cim.tiles.export import TilesetSummary, export_tileset

__all__ = ["TilesetSummary", "export_tileset"]

"""Ingest one GIS source: each layer becomes one version of a layer table (see cim.store.names).

A layer is committed like a model: its features go to a new folder ``layers/<name>/v<version>`` that
readers see only once the ``models`` row of that version is committed. Its name is the store's
``layer_table_name`` of the name cim.gis gave it, so it can never shadow a table or view of the store.
"""

from __future__ import annotations

from pathlib import Path

from cim.config import ModelSettings
from cim.gis import Layer, frame_to_arrow, read_gis
from cim.store import ModelCommit, geometry_field
from cim.store.delta import now_utc
from cim.store.names import layer_table_name


def prepare_gis(path: str | Path, city_crs: str, settings: ModelSettings, *, sha256: str) -> list[ModelCommit]:
    """One commit per layer. Raises GisError when the source cannot be read at all."""
    path = Path(path)
    layers = read_gis(path, city_crs, crs=settings.crs, layers=list(settings.layers) if settings.layers else None)
    return [_layer_commit(path, layer, city_crs, settings, sha256) for layer in layers]


def _layer_commit(path: Path, layer: Layer, city_crs: str, settings: ModelSettings, sha256: str) -> ModelCommit:
    table = frame_to_arrow(layer)
    geom_idx = table.schema.get_field_index("geometry")
    table = table.set_column(geom_idx, geometry_field("geometry", city_crs, nullable=False), table["geometry"])
    warnings = list(layer.warnings)
    name, renamed = layer_table_name(layer.name)
    renamed = layer.renamed or renamed
    if renamed:
        warnings.append(renamed)
    if layer.repaired:
        warnings.append(f"{len(layer.repaired)} invalid geometries repaired: features {', '.join(layer.repaired[:20])}")
    for rej in layer.rejected:
        warnings.append(f"feature {rej.feature_id} refused: {rej.reason}")
    record = {
        "kind": "gis",
        "phase": settings.phase,
        "source_path": str(path),
        "source_layer": layer.source_layer,
        "sha256": sha256,
        "settings_hash": settings.fingerprint(city_crs),
        "size_bytes": path.stat().st_size,
        "schema": path.suffix.lstrip(".").upper() or "GIS",
        "authoring_application": None,
        "crs": city_crs,
        "source_crs": layer.source_crs,
        "georef_level": None,
        "georef_method": None,
        "georef": None,
        "status": "warning" if warnings else "ok",
        "message": "\n".join(warnings) or None,
        "n_elements": table.num_rows,
        "n_meshes": 0,
    }
    errors = [{"at": now_utc(), "source_path": str(path), "sha256": sha256, "stage": "gis",
               "error_type": "RejectedFeature", "feature_id": rej.feature_id,
               "message": f"layer {layer.source_layer!r}: feature {rej.feature_id} refused: {rej.reason}"}
              for rej in layer.rejected]
    if renamed:
        errors.append({"at": now_utc(), "source_path": str(path), "sha256": sha256, "stage": "gis",
                       "error_type": "LayerRenamed", "feature_id": None, "message": f"{path}: {renamed}"})
    return ModelCommit(model_id=name, record=record, layer=(name, table), errors=errors)

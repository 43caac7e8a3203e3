"""Exports of the store for GIS users: GeoParquet 1.1, GeoPackage, FlatGeobuf and a QGIS project.

``export(store, {"gpkg": path, ...})`` runs the writers in ``WRITERS`` order for the targets given. Every
writer gets the same :class:`ExportJob`, which reads the store and shapes the layers once (see
``cim.gis_export.layers``); a new format is one function added to ``WRITERS`` and one CLI option.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from cim.gis_export.layers import Layer
from cim.store import Store


@dataclass
class ExportJob:
    """The store, the targets asked for, and what has been written and noted so far."""

    store: Store
    targets: dict[str, Path]
    written: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @cached_property
    def layers(self) -> list[Layer]:
        """Every table as a layer (meshes left out), then the derived tunnel_axis and protection_zones."""
        from cim.gis_export.derived import derived_layers
        from cim.gis_export.layers import store_layers

        tables, notes = store_layers(self.store)
        derived, more = derived_layers(self.store)
        self.notes += notes + more
        return tables + derived


def _geoparquet(job: ExportJob, target: Path) -> None:
    from cim.gis_export.geoparquet import export_geoparquet

    job.written += export_geoparquet(job.store, target)


def _gpkg(job: ExportJob, target: Path) -> None:
    from cim.gis_export.geopackage import write_geopackage

    job.written.append(write_geopackage(job.layers, job.store.crs, target))


def _fgb(job: ExportJob, target: Path) -> None:
    from cim.gis_export.flatgeobuf import write_flatgeobuf

    written, notes = write_flatgeobuf(job.layers, job.store.crs, target)
    job.written += written
    job.notes += notes


def _qgis(job: ExportJob, target: Path) -> None:
    from cim.gis_export.qgis_project import write_qgis_project

    path, notes = write_qgis_project(job.layers, job.store.crs, job.targets["gpkg"], target)
    job.written.append(path)
    job.notes += notes


WRITERS: dict[str, Callable[[ExportJob, Path], None]] = {
    "geoparquet": _geoparquet, "gpkg": _gpkg, "fgb": _fgb, "qgis": _qgis}


def export(store: Store, targets: dict[str, Path | str | None]) -> ExportJob:
    """Write every target given (keys of ``WRITERS``); a QGIS project without a GeoPackage target gets one
    beside it, named after it (city.qgz -> city.gpkg)."""
    chosen = {k: Path(v) for k, v in targets.items() if v is not None}
    unknown = sorted(set(chosen) - set(WRITERS))
    if unknown:
        raise ValueError(f"unknown export formats: {', '.join(unknown)}")
    if "qgis" in chosen and "gpkg" not in chosen:
        chosen["gpkg"] = chosen["qgis"].with_suffix(".gpkg")
    job = ExportJob(store, chosen)
    for name, writer in WRITERS.items():
        if name in chosen:
            writer(job, chosen[name])
    return job

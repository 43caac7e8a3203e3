"""`cim export`: copies of the store for GIS users (GeoParquet, GeoPackage, FlatGeobuf, a QGIS project) and the
city in 3-D (an OGC 3D Tiles 1.1 tileset, CityJSON LoD1 buildings)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cim.errors import CimError


def export(
    geoparquet: Annotated[Path | None, typer.Option("--geoparquet", help="Folder to write GeoParquet 1.1 files "
                                                    "into (one per table, every column as stored).")] = None,
    gpkg: Annotated[Path | None, typer.Option("--gpkg", help="GeoPackage to write: one layer per table, "
                                              "plus tunnel_axis and protection_zones.")] = None,
    fgb: Annotated[Path | None, typer.Option("--fgb", help="Folder to write FlatGeobuf files into (one per "
                                             "layer with geometry).")] = None,
    qgis: Annotated[Path | None, typer.Option("--qgis", help="QGIS project (.qgz) of the city's layers; the "
                                              "GeoPackage goes beside it (city.qgz -> city.gpkg) unless --gpkg "
                                              "is given.")] = None,
    tiles3d: Annotated[Path | None, typer.Option("--3dtiles", help="Folder to write an OGC 3D Tiles 1.1 tileset "
                                                 "into (tileset.json + GLB tiles); a later export into the same "
                                                 "folder rewrites only changed tiles.")] = None,
    cityjson: Annotated[Path | None, typer.Option("--cityjson", help="CityJSON file of the LoD1 buildings "
                                                  "(IFC buildings and existing context buildings).")] = None,
    model: Annotated[list[str] | None, typer.Option("--model", help="Only this model in --3dtiles/--cityjson "
                                                    "(repeatable; default: every current model).")] = None,
    version: Annotated[int | None, typer.Option("--version", help="This version of the one --model instead of "
                                                "its current one (--3dtiles).")] = None,
    phase: Annotated[str | None, typer.Option("--phase", help="Only models in this phase: plan, build or manage "
                                              "(--3dtiles, --cityjson).")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="City config for the ground elevation context "
                                                "buildings stand on; default ./cim.toml, else "
                                                "sample_models/cim.toml.")] = None,
    store: Annotated[Path, typer.Option("--store", envvar="CIM_STORE", help="Store folder (env CIM_STORE).")]
    = Path("cim-data"),
):
    """Write copies of every table (current versions) for QGIS, ArcGIS, GDAL and geopandas, or the city in 3-D."""
    from cim.cli import _fail, say

    targets = {"geoparquet": geoparquet, "gpkg": gpkg, "fgb": fgb, "qgis": qgis}
    if tiles3d is not None or cityjson is not None:
        if any(v is not None for v in targets.values()):
            _fail(CimError(None, "--3dtiles/--cityjson cannot be combined with the GIS formats",
                           "run `cim export` once for each", stage="export"))
        _export_3d(tiles3d, cityjson, model, version, phase, config, store)
        return
    try:
        if model or version is not None or phase is not None:
            raise CimError(None, "--model, --version and --phase apply to --3dtiles and --cityjson only",
                           "drop them, or add --3dtiles DIR / --cityjson FILE", stage="export")
        if all(v is None for v in targets.values()):
            raise CimError(None, "nothing to export", "give at least one of --geoparquet DIR, --gpkg FILE.gpkg, "
                           "--fgb DIR, --qgis FILE.qgz, --3dtiles DIR, --cityjson FILE", stage="export")
        if qgis is not None and qgis.suffix.lower() != ".qgz":
            raise CimError(qgis, "a QGIS project file name must end in .qgz", "e.g. --qgis city.qgz", stage="export")
        if gpkg is not None and gpkg.suffix.lower() != ".gpkg":
            raise CimError(gpkg, "a GeoPackage file name must end in .gpkg", "e.g. --gpkg city.gpkg", stage="export")
        from cim.gis_export import export as run_export
        from cim.query import open_store_for_query

        job = run_export(open_store_for_query(store), targets)
    except CimError as exc:
        _fail(exc)
    for path in job.written:
        say(path)
    for note in job.notes:
        say(f"note: {note}")


def _export_3d(tiles3d: Path | None, cityjson: Path | None, models: list[str] | None, version: int | None,
               phase: str | None, config: Path | None, store: Path) -> None:
    """`cim export --3dtiles DIR` / `--cityjson FILE`: one line per output, exit 2 on refused input."""
    from cim.cli import _fail, say

    try:
        if phase is not None and phase not in ("plan", "build", "manage"):
            raise CimError(None, f"--phase {phase!r} is not a lifecycle phase", "use plan, build or manage",
                           stage="export")
        from cim.config import load_config
        from cim.query import open_store_for_query

        found = config or next((p for p in (Path("cim.toml"), Path("sample_models/cim.toml")) if p.exists()), None)
        ground = load_config(found).ground_elevation_m if found else None
        st = open_store_for_query(store)
        if tiles3d is not None:
            from cim.tiles import export_tileset

            done = export_tileset(st, tiles3d, models=models, version=version, phase=phase, ground_z=ground)
            say(f"{done.out_dir / 'tileset.json'}: {done.n_tiles} tiles, {done.n_features} features, "
                f"{done.n_written} tiles written, {done.n_reused} unchanged, {done.bytes / 1e6:.1f} MB, "
                f"{done.seconds:.1f} s")
            for note in done.notes:
                say(f"note: {note}")
        if cityjson is not None:
            from cim.tiles.cityjson import export_cityjson

            path, count = export_cityjson(st, cityjson, models=models, version=version, phase=phase,
                                          ground_z=ground)
            say(f"{path}: {count} city objects (LoD1)")
    except CimError as exc:
        _fail(exc)

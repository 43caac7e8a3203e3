"""The GeoParquet export's partitioned datasets: one Hive folder per model (or 1 km tile), GeoParquet 1.1 files
with the bbox covering, read in parallel by dask-geopandas with the same rows as the one-file export."""

from __future__ import annotations

import json

import geopandas as gpd
import pyarrow.parquet as pq
from typer.testing import CliRunner

from cim.cli import app

runner = CliRunner()


def _export(store, out):
    result = runner.invoke(app, ["export", "--geoparquet", str(out), "--store", str(store.root)])
    assert result.exit_code == 0, result.output
    return result


def _same_rows(frame: gpd.GeoDataFrame, key: str) -> list[tuple]:
    frame = frame.assign(**{c: frame[c].astype(str) for c in frame.columns if str(frame[c].dtype) == "category"})
    cols = sorted(c for c in frame.columns if c != "bbox")
    return sorted(tuple(repr(frame[c].iloc[i].wkb if c == frame.geometry.name and frame[c].iloc[i] is not None
                             else frame[c].iloc[i]) for c in cols) for i in range(len(frame)))


def test_dask_geopandas_reads_the_partitioned_elements_in_parallel_with_the_same_rows(city_store, tmp_path):
    import dask_geopandas

    out = tmp_path / "gp"
    _export(city_store, out)
    files = sorted((out / "partitioned" / "elements").glob("model_id=*/part-*.parquet"))
    assert [f.parent.name for f in files] == ["model_id=far", "model_id=north"]
    for f in files:
        geo = json.loads(pq.read_schema(f).metadata[b"geo"])
        column = geo["columns"]["footprint"]
        assert geo["version"] == "1.1.0" and column["covering"]["bbox"]["xmin"] == ["bbox", "xmin"]
        assert "model_id" not in pq.read_schema(f).names  # in the folder name, Hive style
    north = json.loads(pq.read_schema(files[1]).metadata[b"geo"])["columns"]["footprint"]["bbox"]
    assert 464_900 <= north[0] < north[2] < 464_950  # this file's own extent, not the whole table's

    frame = dask_geopandas.read_parquet(out / "partitioned" / "elements")
    assert frame.npartitions == 2 and frame.spatial_partitions is not None
    computed = frame.compute()
    whole = gpd.read_parquet(out / "elements.parquet")
    assert computed.crs == whole.crs and len(computed) == len(whole) == 10  # every element, with a footprint or not
    assert _same_rows(computed, "global_id") == _same_rows(whole, "global_id")


def test_a_layer_without_models_is_partitioned_by_one_km_tiles_and_a_second_export_replaces_the_first(
        city_store, tmp_path):
    import dask_geopandas

    out = tmp_path / "gp"
    _export(city_store, out)
    stale = out / "partitioned" / "parcels" / "tile=e0_n0"
    stale.mkdir()
    (stale / "part-0.parquet").write_bytes(b"left from an older export")
    _export(city_store, out)
    tiles = sorted(p.name for p in (out / "partitioned" / "parcels").iterdir())
    assert tiles == ["tile=e464_n2865", "tile=e465_n2865"]
    parcels = dask_geopandas.read_parquet(out / "partitioned" / "parcels").compute()
    assert sorted(parcels["parcel_id"]) == ["BH-01", "BH-02"] and parcels.crs.to_epsg() == 4549

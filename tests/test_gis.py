"""GIS ingest: formats, CRS handling, geometry repair/rejection, table names, Arrow round trip."""

from __future__ import annotations

import json
import struct
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Point, Polygon

from cim.errors import GisError
from cim.gis import (
    GIS_SUFFIXES,
    arrow_to_frame,
    frame_to_arrow,
    is_gis_file,
    list_layers,
    read_gis,
    repair,
    table_name,
)

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "gis"
CITY = "EPSG:32651"  # UTM 51N: covers the test data near 120.5 E, 30.5 N


def fixture(name: str) -> Path:
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(f"fixture {path} not present")
    return path


def lonlat_points() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": ["a", "b", "c"],
            "lanes": np.array([1, 2, 3], dtype="int64"),
            "width": [3.5, 7.0, 10.25],
            "opened": pd.to_datetime(["2001-02-03", "2010-05-06", "2020-07-08"]),
        },
        geometry=[Point(120.1, 30.2), Point(120.5, 30.5), Point(121.0, 31.0)],
        crs="EPSG:4326",
    )


def assert_reprojected(frame: gpd.GeoDataFrame, source: gpd.GeoDataFrame, src_crs: str, dst_crs: str) -> None:
    """Every vertex equals a direct pyproj transform of the source vertex, to 1e-6 m."""
    transformer = Transformer.from_crs(src_crs, dst_crs, always_xy=True)
    src = shapely.get_coordinates(source.geometry.to_numpy())
    ex, ey = transformer.transform(src[:, 0], src[:, 1])
    got = shapely.get_coordinates(frame.geometry.to_numpy())
    np.testing.assert_allclose(got[:, 0], ex, atol=1e-6, rtol=0)
    np.testing.assert_allclose(got[:, 1], ey, atol=1e-6, rtol=0)


def zip_shapefile(frame: gpd.GeoDataFrame, folder: Path, name: str, zip_name: str) -> Path:
    shp_dir = folder / f"{name}_shp"
    shp_dir.mkdir()
    frame.to_file(shp_dir / f"{name}.shp")
    out = folder / zip_name
    with zipfile.ZipFile(out, "w") as zf:
        for part in shp_dir.iterdir():
            zf.write(part, part.name)
    return out


def test_a_geopackage_gives_one_reprojected_layer_per_table(tmp_path: Path) -> None:
    points = lonlat_points()
    parcels = gpd.GeoDataFrame(
        {"parcel": ["p1"]},
        geometry=[Polygon([(500000, 3370000), (500100, 3370000), (500100, 3370100), (500000, 3370100)])],
        crs="EPSG:4549",
    )
    gpkg = tmp_path / "city.gpkg"
    points.to_file(gpkg, layer="Road Red-Lines")
    parcels.to_file(gpkg, layer="parcels")

    layers = {layer.source_layer: layer for layer in read_gis(gpkg, CITY)}

    assert sorted(layers) == ["Road Red-Lines", "parcels"]
    assert layers["Road Red-Lines"].name == "road_red_lines"
    assert layers["Road Red-Lines"].source_crs == "EPSG:4326"
    assert layers["parcels"].source_crs == "EPSG:4549"
    assert layers["parcels"].frame.crs.to_epsg() == 32651
    assert_reprojected(layers["Road Red-Lines"].frame, points, "EPSG:4326", CITY)
    assert_reprojected(layers["parcels"].frame, parcels, "EPSG:4549", CITY)
    assert list(layers["Road Red-Lines"].frame["feature_id"]) == ["a", "b", "c"]


def test_the_layers_option_reads_only_the_named_layers_and_refuses_unknown_ones(tmp_path: Path) -> None:
    gpkg = tmp_path / "two.gpkg"
    lonlat_points().to_file(gpkg, layer="first")
    lonlat_points().to_file(gpkg, layer="second")

    assert list_layers(gpkg) == ["first", "second"]
    assert [layer.source_layer for layer in read_gis(gpkg, CITY, layers=["second"])] == ["second"]
    with pytest.raises(GisError, match=r"layer 'third' is not in the file \(it has first, second\)") as err:
        read_gis(gpkg, CITY, layers=["third"])
    assert str(gpkg) in str(err.value) and "cim.toml" in err.value.hint


@pytest.mark.parametrize("suffix", [".geojson", ".fgb"])
def test_geojson_and_flatgeobuf_keep_their_attribute_types_and_reproject(tmp_path: Path, suffix: str) -> None:
    points = lonlat_points()
    path = tmp_path / f"stops{suffix}"
    points.to_file(path)

    (layer,) = read_gis(path, CITY)

    frame = layer.frame.sort_values("feature_id")  # FlatGeobuf's spatial index reorders features
    assert layer.name == "stops"
    assert pd.api.types.is_integer_dtype(frame["lanes"])
    assert pd.api.types.is_float_dtype(frame["width"])
    assert pd.api.types.is_datetime64_any_dtype(frame["opened"])
    assert frame["opened"].iloc[1] == pd.Timestamp("2010-05-06")
    assert_reprojected(frame, points, "EPSG:4326", CITY)


@pytest.mark.parametrize("zip_name", ["roads.zip", "roads.shp.zip"])
def test_a_zipped_shapefile_is_read_through_the_zip(tmp_path: Path, zip_name: str) -> None:
    roads = gpd.GeoDataFrame(
        {"name": ["main", "side"]},
        geometry=[LineString([(120.1, 30.1), (120.2, 30.3)]), LineString([(120.4, 30.4), (120.6, 30.2)])],
        crs="EPSG:4326",
    )
    path = zip_shapefile(roads, tmp_path, "roads", zip_name)

    assert is_gis_file(path)
    (layer,) = read_gis(path, CITY)

    assert layer.source_layer == "roads" and len(layer.frame) == 2
    assert_reprojected(layer.frame, roads, "EPSG:4326", CITY)


def test_a_geoparquet_file_is_one_layer_named_after_the_file(tmp_path: Path) -> None:
    points = lonlat_points().to_crs("EPSG:4549")
    path = tmp_path / "Survey Points.parquet"
    points.to_parquet(path)

    (layer,) = read_gis(path, CITY)

    assert layer.name == "survey_points" and layer.source_crs == "EPSG:4549"
    assert_reprojected(layer.frame, points, "EPSG:4549", CITY)


def test_a_geoparquet_row_with_unreadable_wkb_is_rejected_and_the_rest_loads(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    lonlat_points().to_parquet(path)
    table = pq.read_table(path)
    two_point_ring = struct.pack("<BIII4d", 1, 3, 1, 2, 120.0, 30.0, 120.1, 30.1)
    wkb = table.column("geometry").to_pylist()
    wkb[1] = two_point_ring
    table = table.set_column(table.schema.get_field_index("geometry"), "geometry", [wkb])
    pq.write_table(table, path)

    (layer,) = read_gis(path, CITY)

    assert list(layer.frame["feature_id"]) == ["a", "c"]
    assert [r.feature_id for r in layer.rejected] == ["b"]
    assert "LinearRing" in layer.rejected[0].reason


def test_a_layer_without_crs_is_refused_unless_the_config_gives_one(tmp_path: Path) -> None:
    points = lonlat_points().to_crs("EPSG:4549").drop(columns="opened").set_crs(None, allow_override=True)
    path = tmp_path / "nocrs.shp"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyogrio warns that the file will have no CRS: that is the point
        points.to_file(path)

    with pytest.raises(GisError, match="layer 'nocrs' has no CRS") as err:
        read_gis(path, CITY)
    assert err.value.path == str(path)
    assert err.value.hint == 'set crs = "EPSG:NNNN" for this file under [gis."nocrs.shp"] in cim.toml, or add a .prj'

    (layer,) = read_gis(path, CITY, crs="EPSG:4549")
    assert layer.source_crs == "EPSG:4549"
    assert_reprojected(layer.frame, points, "EPSG:4549", CITY)


def test_a_config_crs_that_differs_from_the_file_wins_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "p.gpkg"
    points = lonlat_points().to_crs("EPSG:4549")
    points.set_crs("EPSG:4326", allow_override=True).to_file(path)  # a wrong CRS in the file

    (layer,) = read_gis(path, CITY, crs="EPSG:4549")

    assert any("replaced by configured EPSG:4549" in w for w in layer.warnings)
    assert_reprojected(layer.frame, points, "EPSG:4549", CITY)


def test_an_unknown_crs_or_a_reprojection_to_infinity_is_an_error_naming_layer_and_file(tmp_path: Path) -> None:
    path = tmp_path / "p.gpkg"
    lonlat_points().to_file(path, layer="pts")
    with pytest.raises(GisError, match="'EPSG:999999' is not a CRS pyproj knows") as err:
        read_gis(path, CITY, crs="EPSG:999999")
    assert str(path) in str(err.value)

    utm_as_degrees = gpd.GeoDataFrame({"k": [1]}, geometry=[Point(500000, 3370000)], crs="EPSG:4326")
    bad = tmp_path / "wrong.gpkg"
    utm_as_degrees.to_file(bad, layer="wrong")
    with pytest.raises(GisError, match="layer 'wrong'.*(non-finite coordinates|outside the area of use)") as err:
        read_gis(bad, CITY)
    assert err.value.path == str(bad)


def test_empty_missing_and_non_gis_files_are_refused_with_a_reason(tmp_path: Path) -> None:
    empty = tmp_path / "empty.gpkg"
    empty.touch()
    with pytest.raises(GisError, match=r"file is empty \(0 bytes\)"):
        read_gis(empty, CITY)
    with pytest.raises(GisError, match="file not found"):
        read_gis(tmp_path / "nope.geojson", CITY)
    text = tmp_path / "notes.geojson"
    text.write_text("these are meeting notes, not features")
    with pytest.raises(GisError, match="not a readable GIS file") as err:
        read_gis(text, CITY)
    assert "GeoPackage" in err.value.hint and str(text) in str(err.value)
    garbage = tmp_path / "x.parquet"
    garbage.write_bytes(b"PAR1 not really")
    with pytest.raises(GisError, match="not a readable GeoParquet file"):
        read_gis(garbage, CITY)


def test_is_gis_file_looks_inside_json_and_zip_files(tmp_path: Path) -> None:
    config = tmp_path / "settings.json"
    config.write_text(json.dumps({"a": 1}))
    archive = tmp_path / "docs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("readme.txt", "hello")
    features = tmp_path / "f.json"
    features.write_text(json.dumps({"type": "FeatureCollection", "features": []}))

    assert not is_gis_file(config) and not is_gis_file(archive) and not is_gis_file(tmp_path / "a.ifc")
    assert is_gis_file(features) and is_gis_file(tmp_path / "later.fgb")
    assert {".gpkg", ".geojson", ".shp", ".zip", ".parquet", ".fgb"} <= set(GIS_SUFFIXES)


def test_a_bowtie_is_repaired_into_two_triangles_and_stays_polygonal() -> None:
    bowtie = Polygon([(0, 0), (2, 2), (2, 0), (0, 2), (0, 0)])
    fixed = repair(bowtie)
    assert fixed.geom_type == "MultiPolygon" and fixed.is_valid
    assert fixed.area == pytest.approx(2.0, abs=1e-12)  # two triangles of area 1

    spike = Polygon([(0, 0), (4, 0), (4, 4), (0, 4), (0, 0), (-3, 0), (0, 0)])  # make_valid adds a line
    assert repair(spike).geom_type == "Polygon" and repair(spike).area == pytest.approx(16.0)


def test_bad_features_are_repaired_or_rejected_and_the_rest_of_the_layer_loads(tmp_path: Path) -> None:
    def feature(fid: int, coords: list | None) -> dict:
        geometry = None if coords is None else {"type": "Polygon", "coordinates": coords}
        return {"type": "Feature", "id": fid, "properties": {"n": fid}, "geometry": geometry}

    square = [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]
    collection = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::28992"}},
        "features": [
            feature(1, square),
            feature(2, [[[0, 0], [1, 1], [0, 0]]]),  # closed ring with too few points: collapses
            feature(3, None),
            feature(4, [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]),  # bowtie
            feature(5, []),  # empty polygon
            feature(6, [[[0, 0], [1, 1]]]),  # two-point ring: GEOS cannot even build it
        ],
    }
    for feat in collection["features"]:  # move the shapes to Amersfoort, inside the CRS's area of use
        if feat["geometry"]:
            feat["geometry"]["coordinates"] = [[[x + 155_000, y + 463_000] for x, y in ring]
                                               for ring in feat["geometry"]["coordinates"]]
    path = tmp_path / "parcels.geojson"
    path.write_text(json.dumps(collection))

    (layer,) = read_gis(path, "EPSG:28992")

    assert list(layer.frame["feature_id"]) == ["1", "4"]
    assert layer.repaired == ["4"]
    reasons = {r.feature_id: r.reason for r in layer.rejected}
    assert set(reasons) == {"2", "3", "5", "6"}
    assert reasons["2"].startswith("invalid geometry that make_valid cannot repair (Too few points")
    assert reasons["3"] == "missing geometry" and reasons["5"] == "empty geometry"
    assert reasons["6"].startswith("unreadable geometry: IllegalArgumentException")
    assert layer.frame.geometry.iloc[1].geom_type == "MultiPolygon"
    assert layer.frame.area.tolist() == pytest.approx([100.0, 2.0])


def test_layer_names_become_safe_table_names_and_store_tables_get_a_prefix(tmp_path: Path) -> None:
    assert table_name("Road Red-Lines") == ("road_red_lines", None)
    assert table_name("2024 Bäume") == ("gis_2024_baume", None)
    name, warning = table_name("Buildings")
    assert name == "gis_buildings" and "shadow" in warning

    path = tmp_path / "m.gpkg"
    lonlat_points().to_file(path, layer="Buildings")
    lonlat_points().to_file(path, layer="buildings ")
    first, second = read_gis(path, CITY)
    assert (first.name, second.name) == ("gis_buildings", "gis_buildings_2")
    assert "shadow" in first.renamed and any("gis_buildings_2" in w for w in second.warnings)


def test_a_layer_survives_the_round_trip_through_arrow(tmp_path: Path) -> None:
    frame = lonlat_points()
    frame["tags"] = [[1], None, [2, 3]]  # a list column: pandas object dtype after reading
    frame.geometry = [Point(120.1, 30.2, 5.0), Point(120.5, 30.5, 6.0), Point(121.0, 31.0, 7.5)]
    path = tmp_path / "z.parquet"
    frame.to_parquet(path)
    (layer,) = read_gis(path, CITY)

    table = frame_to_arrow(layer)
    back = arrow_to_frame(table, CITY)

    assert table.column_names == ["feature_id", "id", "lanes", "width", "opened", "tags", "geometry"]
    assert str(table.schema.field("geometry").type) == "binary"
    # lists are stored as JSON text
    assert back["tags"].iloc[0] == "[1]" and pd.isna(back["tags"].iloc[1]) and back["tags"].iloc[2] == "[2, 3]"
    assert back.crs.to_epsg() == 32651 and back.geometry.has_z.all()
    assert back.geometry.geom_equals_exact(layer.frame.geometry, tolerance=0).all()
    pd.testing.assert_frame_equal(pd.DataFrame(back.drop(columns="geometry")),
                                  pd.DataFrame(layer.frame.drop(columns="geometry")))


def test_real_nyc_boroughs_reproject_from_survey_feet_with_the_right_area() -> None:
    path = fixture("nybb_16a.zip")
    (layer,) = read_gis(path, "EPSG:32618")

    assert layer.source_crs == "EPSG:2263" and len(layer.frame) == 5
    source = gpd.read_file(path)
    transformer = Transformer.from_crs("EPSG:2263", "EPSG:32618", always_xy=True)
    expected = sum(shapely.transform(g, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))).area
                   for g in source.geometry)
    assert layer.frame.area.sum() == pytest.approx(expected, rel=0.01)
    assert layer.frame.area.sum() == pytest.approx(source.area.sum() * 0.3048006096**2, rel=0.01)


def test_a_real_shapefile_whose_only_ring_has_two_points_is_refused_with_the_feature_named() -> None:
    path = fixture("poly_not_enough_points.shp.zip")
    with pytest.raises(GisError, match="all 1 features rejected") as err:
        read_gis(path, "EPSG:28992")
    (rejected,) = err.value.rejected
    assert rejected.feature_id == "0"
    assert "Invalid number of points in LinearRing found 2" in rejected.reason

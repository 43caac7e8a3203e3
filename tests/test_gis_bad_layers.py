"""A sweep of awkward GIS layers: each is refused with one clear line, or stored typed and queryable.

Every case goes through the real ingest into a real store and is then read back with DuckDB through every
view `cim query` offers: no layer may leave the store in a state where queries fail (a Null-typed column
made every later query fail with "Unsupported Delta table type: 'void'").
"""

from __future__ import annotations

import json
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyogrio
import pytest
import shapely
from shapely.geometry import Point

from cim.config import default_config
from cim.gis import frame_to_arrow, read_gis
from cim.ingest.run import ingest_file
from cim.query import connect
from cim.store import Store

CRS = "EPSG:4549"
X, Y = 464_900.0, 2_865_800.0


def collection(features: list[dict], crs: str | None = CRS) -> dict:
    doc: dict = {"type": "FeatureCollection", "features": features}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{crs.split(':')[1]}"}}
    return doc


def feature(props: dict, geometry: dict | None | str = "point") -> dict:
    geom = {"type": "Point", "coordinates": [X, Y]} if geometry == "point" else geometry
    return {"type": "Feature", "properties": props, "geometry": geom}


def geojson(doc: dict) -> Callable[[Path, str], Path]:
    def make(folder: Path, name: str) -> Path:
        path = folder / f"{name}.geojson"
        path.write_text(json.dumps(doc))
        return path
    return make


def geopackage(frame: gpd.GeoDataFrame) -> Callable[[Path, str], Path]:
    def make(folder: Path, name: str) -> Path:
        path = folder / f"{name}.gpkg"
        frame.to_file(path, layer=name, driver="GPKG")
        return path
    return make


def blob_geopackage(folder: Path, name: str) -> Path:
    """A GeoPackage with a real BLOB column (geopandas would write bytes as their repr)."""
    path = folder / f"{name}.gpkg"
    table = pa.table({"photo": pa.array([b"\x00\x01\xff", None], pa.binary()),
                      "geometry": pa.array(shapely.to_wkb([Point(X, Y), Point(X + 1, Y)]).tolist(), pa.binary())})
    pyogrio.write_arrow(table, path, layer=name, driver="GPKG", geometry_name="geometry", geometry_type="Point",
                        crs=CRS)
    return path


def attribute_only_geopackage(folder: Path, name: str) -> Path:
    path = folder / f"{name}.gpkg"
    pyogrio.write_dataframe(pd.DataFrame({"a": [1, 2]}), path, layer=name, driver="GPKG")
    return path


def shapefile_without_prj(folder: Path, name: str) -> Path:
    shp = folder / f"{name}_shp"
    shp.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyogrio warns that the file will have no CRS: that is the point
        gpd.GeoDataFrame({"a": [1]}, geometry=[Point(X, Y)]).to_file(shp / f"{name}.shp")
    path = folder / f"{name}.shp.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for part in shp.iterdir():
            zf.write(part, part.name)
    return path


def empty_frame(**columns: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({k: pd.Series([], dtype=v) for k, v in columns.items()},
                            geometry=gpd.GeoSeries([], crs=CRS))


def points(n: int, **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=[Point(X + i, Y + i) for i in range(n)], crs=CRS)


def empty_parquet(folder: Path, name: str) -> Path:
    path = folder / f"{name}.parquet"
    empty_frame(name="object").to_parquet(path)
    return path


LINE = {"type": "LineString", "coordinates": [[X, Y], [X + 5, Y + 5]]}
SQUARE = {"type": "Polygon", "coordinates": [[[X, Y], [X + 5, Y], [X + 5, Y + 5], [X, Y]]]}


@dataclass
class Case:
    make: Callable[[Path, str], Path]
    refused: str | None = None  # words of the one-line reason when the layer must be refused
    rows: int | None = None  # rows stored when accepted
    types: dict[str, Callable[[pa.DataType], bool]] = field(default_factory=dict)  # column -> type test
    notes: tuple[str, ...] = ()  # words the ingest message (models.message) must hold
    values: dict[str, list] = field(default_factory=dict)  # column -> stored values


TEXT, INT, BINARY = pa.types.is_string, pa.types.is_integer, pa.types.is_binary


def is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


CASES: dict[str, Case] = {
    "empty GeoJSON": Case(geojson(collection([])), rows=0, types={"feature_id": is_text},
                          notes=("has no features",)),
    "empty GeoPackage with typed fields": Case(geopackage(empty_frame(name="object", lanes="int64")), rows=0,
                                               types={"name": is_text, "lanes": INT}, notes=("has no features",)),
    "empty GeoParquet": Case(empty_parquet, rows=0, types={"name": is_text}),
    "a column null on every feature": Case(geojson(collection([feature({"a": 1, "b": None}),
                                                               feature({"a": 2, "b": None})])),
                                           rows=2, types={"b": is_text}),
    "a GeoPackage text column null everywhere": Case(geopackage(points(2, owner=pd.Series([None, None], dtype=object))),
                                                      rows=2, types={"owner": is_text}),
    "Name and name": Case(geojson(collection([feature({"Name": "x", "name": "y"})])), rows=1,
                          types={"Name": is_text, "name_2": is_text}, notes=("stored as 'name_2'",),
                          values={"Name": ["x"], "name_2": ["y"]}),
    "Name, name and NAME": Case(geojson(collection([feature({"Name": "x", "name": "y", "NAME": "z"})])), rows=1,
                                values={"Name": ["x"], "name_2": ["y"], "NAME_3": ["z"]}),
    "FEATURE_ID that is no id": Case(geojson(collection([feature({"FEATURE_ID": 1}), feature({"FEATURE_ID": 1})])),
                                     rows=2, values={"FEATURE_ID_src": [1, 1]}, notes=("FEATURE_ID_src",)),
    "feature_id that is no id": Case(geojson(collection([feature({"feature_id": 1}), feature({"feature_id": 1})])),
                                     rows=2, values={"feature_id_src": [1, 1]}, notes=("not a unique id",)),
    "mixed geometry types": Case(geojson(collection([feature({"a": 1}), feature({"a": 2}, LINE),
                                                     feature({"a": 3}, SQUARE)])),
                                 rows=3, notes=("mixed geometry types: 1 LineString, 1 Point, 1 Polygon",)),
    "names with spaces and punctuation": Case(geojson(collection([feature({"my col": 1, "a,b;c": 2, "x{y}(z)": 3,
                                                                           "t\tab=": 4})])),
                                              rows=1, values={"my col": [1], "a,b;c": [2], "t\tab=": [4]}),
    "names with quotes and backticks": Case(geojson(collection([feature({'a"b': 1, "it's": 2, "`bt`": 3})])), rows=1,
                                            values={'a"b': [1], "it's": [2], "`bt`": [3]}),
    "unicode names": Case(geojson(collection([feature({"名称": "路", "émoji😀": 1})])), rows=1,
                          values={"名称": ["路"], "émoji😀": [1]}),
    "a name with a newline": Case(geojson(collection([feature({"a\nb": 1})])), rows=1, values={"a\nb": [1]}),
    "an empty name": Case(geojson(collection([feature({"": 1, "a": 2})])), rows=1, values={"column_1": [1]},
                          notes=("has no name",)),
    "model_id and version columns": Case(geojson(collection([feature({"model_id": "m", "Version": "v9"})])), rows=1,
                                         values={"model_id_src": ["m"], "Version_src": ["v9"]},
                                         notes=("model_id_src", "Version_src")),
    "a property named geometry": Case(geojson(collection([feature({"geometry": "kerb", "a": 1}),
                                                          feature({"geometry": None, "a": 2})])), rows=2,
                                      values={"geometry_src": ["kerb", None]}, notes=("geometry_src",)),
    "a property named Geometry": Case(geojson(collection([feature({"Geometry": "kerb"})])), rows=1,
                                      values={"Geometry_src": ["kerb"]}),
    "datetime columns": Case(geopackage(points(2, at=pd.to_datetime(["2020-01-01T10:00", "2021-06-01T00:00"]))),
                             rows=2, types={"at": pa.types.is_timestamp}),
    "a list column": Case(geojson(collection([feature({"l": [1, 2]}), feature({"l": []})])), rows=2,
                          values={"l": ["[1, 2]", "[]"]}),
    "an object column": Case(geojson(collection([feature({"o": {"a": 1, "b": [1]}}), feature({"o": None})])),
                             rows=2, types={"o": is_text}),
    "a binary column": Case(blob_geopackage, rows=2, types={"photo": BINARY},
                            values={"photo": [b"\x00\x01\xff", None]}),
    "numbers, text and booleans in one column": Case(geojson(collection([feature({"v": 1}), feature({"v": "x"}),
                                                                        feature({"v": True})])),
                                                     rows=3, types={"v": is_text}),
    "booleans with a null": Case(geojson(collection([feature({"b": True}), feature({"b": None})])), rows=2,
                                 types={"b": pa.types.is_boolean}, values={"b": [True, None]}),
    "3-D and 2-D points": Case(geojson(collection([feature({"a": 1}, {"type": "Point", "coordinates": [X, Y, 12.5]}),
                                                   feature({"a": 2})])), rows=2),
    "a geometry collection": Case(geojson(collection([feature({"a": 1}, {"type": "GeometryCollection",
                                                                         "geometries": [LINE, SQUARE]})])), rows=1),
    "an empty geometry": Case(geojson(collection([feature({"a": 1}), feature({"a": 2}, {"type": "Polygon",
                                                                                        "coordinates": []})])),
                              rows=1, notes=("empty geometry",)),
    "a null geometry": Case(geojson(collection([feature({"a": 1}), feature({"a": 2}, None)])), rows=1,
                            notes=("missing geometry",)),
    "huge coordinates": Case(geojson(collection([feature({"a": 1}, {"type": "Point", "coordinates": [1e300, 1e300]}),
                                                 feature({"a": 2})])), rows=1, notes=("not a position on Earth",)),
    "only null geometries": Case(geojson(collection([feature({"a": 1}, None)])), refused="all 1 features rejected"),
    "no CRS": Case(shapefile_without_prj, refused="has no CRS"),
    "a CRS nobody knows": Case(geojson(collection([feature({"a": 1})], crs="EPSG:999999")),
                               refused="declares the CRS 'urn:ogc:def:crs:EPSG::999999'"),
    "an integer beyond 64 bits": Case(geojson(collection([feature({"v": 2**63 + 5})])), refused="Unrecognized number"),
    "a table without geometry": Case(attribute_only_geopackage, refused="has no geometry column"),
}


def _view_rows(store: Store, table: str) -> tuple[list[str], list[tuple]]:
    """Columns and rows of the layer as `cim query` shows it; every other view must be readable too."""
    con = connect(store)
    views = [r[0] for r in con.sql("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()]
    for view in views:
        con.sql(f'SELECT * FROM "{view}"').fetchall()  # a broken table fails here, as it would for users
    name = table if table in views else next(v for v in views if v.endswith(table) and "history" not in v)
    rel = con.sql(f'SELECT * EXCLUDE (geometry) FROM "{name}" ORDER BY feature_id')
    return rel.columns, rel.fetchall()


@pytest.mark.parametrize("case_name", list(CASES))
def test_a_bad_layer_is_refused_in_one_line_or_stored_typed_and_queryable(tmp_path: Path, case_name: str) -> None:
    case = CASES[case_name]
    slug = "layer_" + str(list(CASES).index(case_name))
    path = case.make(tmp_path, slug)
    store = Store(tmp_path / "store", CRS)

    outcome = ingest_file(store, default_config(CRS), path)

    if case.refused:
        assert outcome.action == "quarantined" and outcome.stage == "gis", outcome.message
        assert str(path) in outcome.message and case.refused in outcome.message
        assert "\n" not in outcome.message and "Traceback" not in outcome.message
        assert store.read("models").num_rows == 0  # nothing stored
        return
    assert outcome.action == "ingested", outcome.message
    (model_id,) = outcome.model_ids
    for words in case.notes:
        assert words in (store.latest(model_id)["message"] or "")
    (layer,) = read_gis(path, CRS)
    table = frame_to_arrow(layer)
    assert not any(pa.types.is_null(f.type) for f in table.schema), table.schema
    lowered = [n.lower() for n in table.column_names]
    assert len(set(lowered)) == len(lowered), table.column_names
    for column, test in {"feature_id": is_text, "geometry": BINARY, **case.types}.items():
        assert test(table.schema.field(column).type), (column, table.schema.field(column).type)
    columns, rows = _view_rows(store, model_id)
    assert len(rows) == case.rows
    for column, expected in case.values.items():
        assert [r[columns.index(column)] for r in rows] == expected, column

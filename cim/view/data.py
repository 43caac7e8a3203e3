"""What the viewer page reads from the store, always through `cim query`'s read-only connection.

:func:`cim.query.connect` gives an in-memory DuckDB whose views are bound to the store's Delta tables and which
then cannot touch any file or change a setting; every value from a request is a bound parameter, never SQL text.
A layer name is only ever one of the names the store's ``models`` table lists, quoted as an identifier.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import threading
from decimal import Decimal
from typing import Any

from cim.errors import StoreError
from cim.view.geo import geometry_to_lonlat, to_lonlat

STATUS_RANK = {"new": 0, "active": 1, "approved": 2, "resolved": 3}  # the worst (lowest) status wins per element
GROUND_LAYERS_SKIPPED = ("buildings_existing", "pipelines")  # the tileset draws them (LoD1 blocks, buried tubes)
MAX_CLASHES_LISTED = 20
GROUND_MARGIN_M = 60.0


def plain(value: Any) -> Any:
    """A DuckDB value as JSON: timestamps as ISO text, JSON columns parsed, non-finite floats null, blobs left out."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return None
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def _json_column(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return plain(value)


class CityData:
    """The store as the page sees it: models, GIS layers in WGS84, clashes and one element's attributes."""

    def __init__(self, store, ground_m: float = 0.0):
        from cim.query import connect

        self.crs = store.crs
        self.ground_m = float(ground_m)
        self._con = connect(store)
        self._lock = threading.Lock()  # one DuckDB connection, used by one request thread at a time
        self.models = self._rows("SELECT model_id, version, kind, phase, n_elements, n_meshes FROM models "
                                 "ORDER BY kind, model_id")
        self._views = set(self._column("SELECT view_name FROM duckdb_views() WHERE NOT internal"))
        self.layers = [m["model_id"] for m in self.models if m["kind"] == "gis" and m["model_id"] in self._views]

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def _rows(self, sql: str, params: list | None = None) -> list[dict[str, Any]]:
        with self._lock:
            cur = self._con.execute(sql, params or [])
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def _column(self, sql: str) -> list[Any]:
        with self._lock:
            return [row[0] for row in self._con.execute(sql).fetchall()]

    def mesh_models(self) -> list[str]:
        """IFC models with at least one mesh: an empty store has none."""
        return [m["model_id"] for m in self.models if m["kind"] == "ifc" and (m["n_meshes"] or 0) > 0]

    def config(self) -> dict[str, Any]:
        return {"crs": self.crs, "ground_m": self.ground_m, "models": plain(self.models),
                "layers": [name for name in self.layers if name not in GROUND_LAYERS_SKIPPED],
                "extent": self.extent()}

    def extent(self, margin_m: float = GROUND_MARGIN_M) -> list[float] | None:
        """The city's ground plane: the bounds of every element and layer plus a margin, as lon, lat pairs."""
        parts = ["SELECT min(xmin) AS x0, min(ymin) AS y0, max(xmax) AS x1, max(ymax) AS y1 FROM elements "
                 "WHERE has_mesh"] if "elements" in self._views else []
        for name in self.layers:
            quoted = '"' + name.replace('"', '""') + '"'
            parts.append(f"SELECT min(ST_XMin(geometry)), min(ST_YMin(geometry)), max(ST_XMax(geometry)), "
                         f"max(ST_YMax(geometry)) FROM {quoted}")
        if not parts:
            return None
        row = self._rows("SELECT min(x0) AS x0, min(y0) AS y0, max(x1) AS x1, max(y1) AS y1 FROM ("
                         + " UNION ALL ".join(parts) + ")")[0]
        if any(v is None for v in row.values()):
            return None
        x0, y0, x1, y1 = row["x0"] - margin_m, row["y0"] - margin_m, row["x1"] + margin_m, row["y1"] + margin_m
        lon, lat, _ = to_lonlat(self.crs, [x0, x1, x1, x0], [y0, y0, y1, y1])
        return [round(float(v), 9) for pair in zip(lon, lat, strict=True) for v in pair]

    # -- GIS layers --------------------------------------------------------------------------------------
    def layer_geojson(self, name: str) -> dict[str, Any] | None:
        """One GIS layer as a GeoJSON FeatureCollection in WGS84; None for a name that is not a layer.

        Polygons lie on the ground; a line with ``depth_m`` (a buried line) lies that far below it.
        """
        import shapely

        if name not in self.layers:
            return None
        quoted = '"' + name.replace('"', '""') + '"'
        rows = self._rows(f"SELECT * EXCLUDE (geometry), ST_AsWKB(geometry) AS __wkb FROM {quoted}")
        features = []
        for row in rows:
            wkb = row.pop("__wkb")
            if wkb is None:
                continue
            geom = shapely.from_wkb(bytes(wkb))
            depth = row.get("depth_m")
            height = self.ground_m - float(depth) if isinstance(depth, int | float) else self.ground_m
            features.append({"type": "Feature", "properties": {"layer": name, **plain(row)},
                             "geometry": geometry_to_lonlat(self.crs, geom, height)})
        return {"type": "FeatureCollection", "name": name, "features": features}

    # -- clashes -----------------------------------------------------------------------------------------
    def clashes(self) -> list[dict[str, Any]]:
        """Every clash with its point in WGS84 and its status (empty when no check has run)."""
        if "clashes" not in self._views:
            return []
        rows = self._rows("SELECT clash_id, status, rule, mode, severity, a_model, a_global_id, a_class, a_name, "
                          "b_model, b_global_id, b_class, b_name, x, y, z FROM clashes ORDER BY clash_id")
        if rows:
            lon, lat, h = to_lonlat(self.crs, [r["x"] for r in rows], [r["y"] for r in rows], [r["z"] for r in rows])
            for row, a, b, c in zip(rows, lon, lat, h, strict=True):
                row.update(lon=float(a), lat=float(b), height=float(c))
        return plain(rows)

    def clash_status_by_element(self, clashes: list[dict[str, Any]]) -> dict[str, str]:
        """``model_id/global_id`` -> the most pressing status of the clashes it is in (new before active...)."""
        out: dict[str, str] = {}
        for c in clashes:
            for key in (f"{c['a_model']}/{c['a_global_id']}", f"{c['b_model']}/{c['b_global_id']}"):
                known = out.get(key)
                if known is None or STATUS_RANK.get(c["status"], 9) < STATUS_RANK.get(known, 9):
                    out[key] = c["status"]
        return out

    # -- one element -------------------------------------------------------------------------------------
    def element(self, model_id: str, global_id: str) -> dict[str, Any] | None:
        """The current attributes of one element (or one GIS feature), with the clashes it is in; None if unknown."""
        if model_id in self.layers:
            quoted = '"' + model_id.replace('"', '""') + '"'
            rows = self._rows(f"SELECT * EXCLUDE (geometry) FROM {quoted} WHERE CAST(feature_id AS VARCHAR) = ? "
                              "LIMIT 1", [global_id])
            return {"model_id": model_id, "global_id": global_id, "kind": "gis", **plain(rows[0])} if rows else None
        rows = self._rows("SELECT * EXCLUDE (footprint) FROM elements WHERE model_id = ? AND global_id = ? LIMIT 1",
                          [model_id, global_id])
        if not rows:
            return None
        row = {k: (_json_column(v) if k in ("psets", "qsets") else plain(v)) for k, v in rows[0].items()}
        model = next((m for m in self.models if m["model_id"] == model_id), {})
        row["phase"] = model.get("phase")
        row["kind"] = "ifc"
        row["clashes"] = self._element_clashes(model_id, global_id)
        return row

    def _element_clashes(self, model_id: str, global_id: str) -> list[dict[str, Any]]:
        if "clashes" not in self._views:
            return []
        return plain(self._rows(
            "SELECT clash_id, status, rule, severity FROM clashes WHERE (a_model = ? AND a_global_id = ?) "
            f"OR (b_model = ? AND b_global_id = ?) ORDER BY clash_id LIMIT {MAX_CLASHES_LISTED}",
            [model_id, global_id, model_id, global_id]))

    def element_centre(self, model_id: str, global_id: str) -> dict[str, float] | None:
        """The centre of an element's bounds in WGS84 and its height: where the page's test hook looks."""
        rows = self._rows("SELECT (xmin + xmax) / 2 AS x, (ymin + ymax) / 2 AS y, zmax AS top, zmin AS bottom "
                          "FROM elements WHERE model_id = ? AND global_id = ? AND has_mesh LIMIT 1",
                          [model_id, global_id])
        if not rows:
            return None
        r = rows[0]
        lon, lat, _ = to_lonlat(self.crs, [r["x"]], [r["y"]])
        return {"lon": float(lon[0]), "lat": float(lat[0]), "top": float(r["top"]), "bottom": float(r["bottom"])}


def require_meshes(data: CityData, root) -> None:
    """An empty store (no IFC model with meshes) has nothing to show: say so with the fix."""
    if not data.mesh_models():
        raise StoreError(root, "the store holds no IFC model with meshes: nothing to show in 3-D",
                         "ingest the city first: make run (or cim ingest FILE.ifc --store DIR)")

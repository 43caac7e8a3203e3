"""Clash results for machines (JSON) and for BIM tools (BCF 2.1 or 3.0: one topic per element group).

BCF cameras are placed in model A's own engineering frame (the inverse of its map conversion), so Bonsai,
BIMcollab or Solibri, which open the IFC in its own coordinates, look at the right spot. Titles and
descriptions name the model and storey of both elements, and each topic's header names the IFC file of
every model its selected components come from, as coordinators expect from Navisworks or Solibri.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from cim.clash.bcf import BcfComponent, BcfTopic, HeaderFile, write_bcfzip
from cim.clash.snapshot import clash_picture
from cim.errors import CimError
from cim.files import write_atomic
from cim.georef import crs as crsmod
from cim.georef.model import Georef

NAMESPACE = uuid.UUID("6f1b5a3e-4d0c-5b8e-9a57-1c2f0d3e4b6a")  # cim clash topics
STATUS_ORDER = ("new", "active", "approved", "resolved")
JSON_FIELDS = ("clash_id", "rule_set", "rule", "mode", "severity", "status", "a_model", "a_global_id", "a_class",
               "a_name", "a_storey", "b_model", "b_global_id", "b_class", "b_name", "b_storey", "depth_m",
               "depth_method", "distance_m",
               "volume_m3", "x", "y", "z", "chainage", "element_group", "location_group", "first_seen", "last_seen",
               "status_changed_at", "note", "history")
MeshLookup = Callable[[list[str]], dict[str, tuple[np.ndarray, np.ndarray, bool]]]


def _iso(value) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def clash_json(rows: list[dict], summary: dict | None = None) -> dict:
    out = []
    for row in rows:
        item = {k: row.get(k) for k in JSON_FIELDS}
        for k in ("first_seen", "last_seen", "status_changed_at"):
            item[k] = _iso(item[k])
        item["history"] = json.loads(item["history"]) if isinstance(item["history"], str) else item["history"]
        out.append(item)
    return {"schema_version": "1.0", "summary": summary or {}, "clashes": out}


def write_json(rows: list[dict], path: Path, summary: dict | None = None) -> Path:
    data = json.dumps(clash_json(rows, summary), indent=1, ensure_ascii=False, default=str)
    return write_atomic(path, data, what="clash list")


def to_engineering(georef: Georef, points: np.ndarray) -> np.ndarray:
    """City CRS (E, N, H) -> the model's engineering metres: the inverse of Georef.to_city."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if not crsmod.same_crs(georef.source_crs, georef.city_crs):
        e, n, h = crsmod.transformer(georef.city_crs, georef.source_crs).transform(p[:, 0], p[:, 1], p[:, 2])
        p = np.column_stack([e, n, h])
    to_crs_units = georef.map_unit_scale / crsmod.crs_unit_scale(georef.source_crs)
    e, n, h = p[:, 0] / to_crs_units, p[:, 1] / to_crs_units, p[:, 2] / georef.map_unit_scale
    a, b = georef.x_axis_abscissa, georef.x_axis_ordinate
    norm = (a * a + b * b) ** 0.5 or 1.0
    a, b = a / norm, b / norm
    dx = (e - georef.eastings) / (georef.scale * georef.factor_x)
    dy = (n - georef.northings) / (georef.scale * georef.factor_y)
    x, y = a * dx + b * dy, -b * dx + a * dy
    z = (h - georef.orthogonal_height) / (georef.scale * georef.factor_z)
    return np.column_stack([x, y, z]) * georef.unit_scale / norm


def topic_guid(group: str) -> str:
    return str(uuid.uuid5(NAMESPACE, group))


def _group_status(rows: list[dict]) -> str:
    return min((r["status"] for r in rows), key=STATUS_ORDER.index)


def _place(row: dict, side: str) -> str:
    """'model storey' of one element of a clash, e.g. 'mep-b1 L2' (the model alone when it has no storey)."""
    storey = row.get(f"{side}_storey")
    return f"{row[f'{side}_model']} {storey}" if storey else row[f"{side}_model"]


def _title(rows: list[dict]) -> str:
    """'Duct ↔ Beam (hard): mep-b1 L2 / struct-b1 L2'; a group names its shared element and the other places."""
    r = rows[0]
    if len(rows) == 1:
        return (f"{r['a_name'] or r['a_class']} ↔ {r['b_name'] or r['b_class']} ({r['mode']}): "
                f"{_place(r, 'a')} / {_place(r, 'b')}")[:250]
    shared = r["element_group"].split(":", 1)[1]
    side = next(((x, s) for x in rows for s in "ab" if f"{x[f'{s}_model']}/{x[f'{s}_global_id']}" == shared), None)
    if side is None:
        return f"{len(rows)} clashes with {shared} ({r['rule']})"[:250]
    x, s = side
    other = "b" if s == "a" else "a"
    places = ", ".join(dict.fromkeys(_place(y, other if _is(y, s, shared) else s) for y in rows))
    name = x[f"{s}_name"] or x[f"{s}_class"]
    return f"{len(rows)} clashes with {name} ({r['rule']}): {_place(x, s)} / {places}"[:250]


def _is(row: dict, side: str, key: str) -> bool:
    return f"{row[f'{side}_model']}/{row[f'{side}_global_id']}" == key


def _description(rows: list[dict]) -> str:
    lines = []
    for r in rows:
        approximate = " (approximate: both meshes open)" if r.get("depth_method") == "approximate" else ""
        measure = f"depth {r['depth_m']:.3f} m{approximate}" if r.get("depth_m") is not None else \
            f"distance {r['distance_m']:.3f} m" if r.get("distance_m") is not None else ""
        where = f"at E {r['x']:.2f} N {r['y']:.2f} z {r['z']:.2f}" + (f", {r['chainage']}" if r.get("chainage") else "")
        lines.append(f"[{r['clash_id']}] {r['rule']} {r['mode']}: {r['a_class']} '{r['a_name']}' ({r['a_global_id']}) "
                     f"in {r['a_model']}, storey {r.get('a_storey') or '-'} ↔ {r['b_class']} '{r['b_name']}' "
                     f"({r['b_global_id']}) in {r['b_model']}, storey {r.get('b_storey') or '-'}; {measure} {where}")
    return "\n".join(lines)


def _comments(rows: list[dict]) -> list[tuple[datetime, str, str]]:
    out = []
    for r in rows:
        history = json.loads(r["history"]) if isinstance(r.get("history"), str) else (r.get("history") or [])
        for ev in history:
            at = datetime.fromisoformat(ev["at"])
            text = f"{r['clash_id']}: {ev.get('from') or '-'} -> {ev['to']}" + (f" ({ev['note']})" if ev.get("note")
                                                                               else "")
            out.append((at if at.tzinfo else at.replace(tzinfo=UTC), str(ev.get("by") or "cim"), text))
    return sorted(out)


def _ts(value) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def bcf_topics(rows: list[dict], meshes: MeshLookup | None = None, frames: dict[str, Georef] | None = None,
               include_resolved: bool = False, files: dict[str, HeaderFile] | None = None) -> list[BcfTopic]:
    """One topic per element group (a single clash is a group of one); ``files`` maps model_id to its IFC file."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        if include_resolved or row["status"] != "resolved":
            groups.setdefault(row["element_group"] or row["clash_id"], []).append(row)
    topics = []
    for group, items in sorted(groups.items()):
        items = sorted(items, key=lambda r: r["clash_id"])
        first = items[0]
        pts = np.array([[r["x"], r["y"], r["z"]] for r in items])
        frame = (frames or {}).get(first["a_model"])
        local = to_engineering(frame, pts) if frame is not None else pts
        bounds = tuple(float(v) for v in np.r_[local.min(axis=0) - 2.0, local.max(axis=0) + 2.0])
        selected, seen = [], set()
        for r in items:
            for s in "ab":
                gid = r[f"{s}_global_id"]
                if gid not in seen and not r[f"{s}_model"].startswith(("zone:", "layer:")):
                    seen.add(gid)
                    selected.append(BcfComponent(gid, originating_system=r[f"{s}_model"]))
        topics.append(BcfTopic(
            guid=topic_guid(group), title=_title(items), description=_description(items),
            status=_group_status(items), priority=first["severity"], topic_type="Clash",
            labels=sorted({r["rule"] for r in items} | {r["mode"] for r in items}),
            creation_date=min(_ts(r["first_seen"]) for r in items),
            modified_date=max(_ts(r["status_changed_at"]) for r in items), author="cim clash",
            selected=selected, camera_point=tuple(float(v) for v in local[0]), focus_bounds=bounds,
            snapshot_png=_snapshot(first, meshes), comments=_comments(items),
            files=[(files or {})[m] for m in dict.fromkeys(c.originating_system for c in selected)
                   if m in (files or {})]))
    return topics


def _snapshot(row: dict, meshes: MeshLookup | None) -> bytes | None:
    if meshes is None:
        return None
    try:
        found = meshes([f"{row['a_model']}/{row['a_global_id']}", f"{row['b_model']}/{row['b_global_id']}"])
    except (CimError, KeyError):
        return None
    return clash_picture(row, found)


def write_bcf(rows: list[dict], path: Path, *, project_name: str, meshes: MeshLookup | None = None,
              frames: dict[str, Georef] | None = None, include_resolved: bool = False,
              files: dict[str, HeaderFile] | None = None, version: str = "2.1") -> Path:
    topics = bcf_topics(rows, meshes, frames, include_resolved, files)
    return write_bcfzip(Path(path), topics, project_name, str(uuid.uuid5(NAMESPACE, f"project:{project_name}")),
                        version)


def model_frames(store) -> dict[str, Georef]:
    """model_id -> the map conversion each current IFC model was ingested with (for BCF cameras)."""
    from cim.geometry.gross import georef_from_record

    return {m["model_id"]: georef_from_record(json.loads(m["georef"]))
            for m in store.current_models().to_pylist() if m["kind"] == "ifc" and m["georef"]}


def export_store(store, rows: list[dict], out_dir: Path, summary: dict | None = None, *, config=None,
                 version: str = "2.1") -> list[Path]:
    """clashes.json and clashes.bcfzip of a store's clashes; meshes are read only for the clashing elements.

    The BCF project is named after the city (``config``, else the cim.toml its models were ingested with).
    """
    from cim.clash.header import city_name, model_files
    from cim.clash.source import current_sources, read_meshes

    sources = current_sources(store)
    return [write_json(rows, Path(out_dir) / "clashes.json", summary),
            write_bcf(rows, Path(out_dir) / "clashes.bcfzip", project_name=city_name(store, config),
                      meshes=lambda keys: read_meshes(sources, keys), frames=model_frames(store),
                      files=model_files(store), version=version)]

"""`cim review`: check one submitted IFC against the city and write report.html, report.json and BCF.

The submission is ingested into a scratch store (the city store is only read), so a review never changes
the city unless ``accept`` asks for it. Anything that stops the review is an exit-2 Review with the reason.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import shapely

from cim import __version__
from cim.clash.export import model_frames
from cim.clash.rules import load_rules
from cim.clash.source import load_models
from cim.config import CityConfig
from cim.errors import CimError, InputError, StoreError
from cim.ifc.reader import open_ifc
from cim.ingest.run import ingest_file
from cim.review.clashes import pipeline_lines, run_clash_checks
from cim.review.model import PASS, CheckResult, Review, SitePlan
from cim.review.quantities import GFA_ABOVE, quantity_summary
from cim.review.revision import existing_buildings, find_revision
from cim.review.site import (
    check_coverage,
    check_far,
    check_height,
    check_inside_parcel,
    check_neighbours,
    check_red_line_setback,
    check_setback,
    find_parcel,
    setback_line,
)
from cim.review.site_footprint import above_ground_footprint, below_ground_footprint
from cim.review.snapshots import clash_snapshots
from cim.review.validity import check_ids, city_extent_from, georef_checks, ids_file_for
from cim.store import Store
from cim.view.scene import review_scene

LAYERS = ("parcels", "road_redlines", "buildings_existing")


def output_dir(model_path: Path, out: Path | None) -> Path:
    """review/<model name> unless given: a name made safe for any file system."""
    if out is not None:
        return out
    stem = re.sub(r"[^\w\-. ]+", "_", model_path.stem).strip(" .") or "model"
    return Path("review") / stem


def prepare_output_dir(folder: Path) -> Path:
    """Create the output folder before any work, or say in one line why it cannot be one.

    A review takes minutes; finding out at the end that ``--out`` names a file or an unwritable place (and
    failing with a traceback and exit 1, which means "a check failed") wastes them and misleads scripts.
    """
    hint = "pass --out a folder you can write to (it is created if missing)"
    if folder.exists() and not folder.is_dir():
        raise CimError(folder, "--out names an existing file, not a folder", hint, stage="output")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CimError(folder, f"cannot create the output folder: {exc.strerror or exc}", hint,
                       stage="output") from exc
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".cim-write-test-"):
            pass
    except OSError as exc:
        raise CimError(folder, f"cannot write in the output folder: {exc.strerror or exc}", hint,
                       stage="output") from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CimError(folder, "cannot write in the output folder: permission denied", hint, stage="output")
    return folder


class Timer:
    def __init__(self) -> None:
        self.times: dict[str, float] = {}

    def __call__(self, step: str, fn, *args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.times[step] = round(self.times.get(step, 0.0) + time.perf_counter() - start, 3)


def timings_with_total(steps: dict[str, float], total_s: float) -> dict[str, float]:
    """The timed steps, ``other`` (the untimed rest: site checks, plan, BCF meshes) and ``total``, the wall time.

    The steps and ``other`` add up to ``total``: a reader summing the rows gets the total once, not twice.
    """
    total = round(total_s, 3)
    other = round(max(0.0, total - sum(steps.values())), 3)
    return {**steps, "other": other, "total": round(sum(steps.values()) + other, 3)}


def review_model(model_path: Path, city: Store, config: CityConfig, *, parcel_id: str | None = None,
                 rules_path: Path | None = None, accept: bool = False, workers: int = 1) -> tuple[Review, dict]:
    """The Review, and what the writers need besides it (the scratch store's clash rows and meshes)."""
    timer = Timer()
    started = time.perf_counter()
    now = datetime.now(UTC).replace(microsecond=0)
    review = Review(str(model_path), None, "error", 2, generated_at=now.isoformat(), code_version=__version__,
                    crs=city.crs)
    extra: dict = {"rows": [], "meshes": None, "frames": {}, "meshes_cache": {}, "snapshots": {}}
    with tempfile.TemporaryDirectory(prefix="cim-review-") as tmp:
        try:
            _review(review, extra, timer, model_path, city, config, parcel_id, rules_path, Path(tmp), now, workers)
            if accept:
                outcome = timer("accept", ingest_file, city, config.scratch(model_path, review.model_id),
                                model_path)
                review.quantities["accepted"] = {"action": outcome.action, "versions": outcome.versions}
        except CimError as exc:
            review.verdict, review.exit_code, review.reason = "error", 2, exc.one_line()
        if extra["meshes"] is not None:  # read meshes for the snapshots before the scratch store goes away
            keys = [f"{r['a_model']}/{r['a_global_id']}" for r in extra["rows"]] + \
                   [f"{r['b_model']}/{r['b_global_id']}" for r in extra["rows"]]
            extra["meshes_cache"] = timer("snapshots", extra["meshes"], keys)
            extra["snapshots"] = timer("snapshots", clash_snapshots, extra["rows"], extra["meshes_cache"])
        review.timings = timings_with_total(timer.times, time.perf_counter() - started)
        if review.reason is None:
            review.verdict = "fail" if review.failed() else "pass"
            review.exit_code = 1 if review.failed() else 0
    return review, extra


def _model_id(path: Path) -> str:
    return "submission-" + (re.sub(r"[^\w\-]+", "-", path.stem).strip("-").lower() or "model")


def _review(review: Review, extra: dict, timer: Timer, path: Path, city: Store, config: CityConfig,
            parcel_id: str | None, rules_path: Path | None, tmp: Path, now: datetime, workers: int) -> None:
    layers = timer("read city", _city_layers, city)
    opened = timer("open", open_ifc, path)
    review.checks.append(CheckResult("opens", "Model opens", PASS, str(path.name), message="The file is a readable "
                                     "IFC (STEP) file"))
    review.checks.append(CheckResult("schema", "IFC schema", PASS, opened.schema, "IFC2X3, IFC4, IFC4X3",
                                     message=f"Schema {opened.schema}"))
    review.model_id = _model_id(path)
    scratch = Store(tmp / "store", city.crs)
    outcome = timer("ingest", ingest_file, scratch, config.scratch(path, review.model_id), path,
                    workers=workers)
    if outcome.action != "ingested":
        raise InputError(path, f"the model could not be ingested: {outcome.message}", stage=outcome.stage)
    model = scratch.latest(review.model_id)
    elements = scratch.read_model("elements", review.model_id).to_pylist()
    if not any(e["has_mesh"] for e in elements):
        raise InputError(path, "the model has no elements with geometry", "export the building's elements")
    review.checks.append(timer("ids", check_ids, opened.file, ids_file_for(opened.schema)))
    ground = config.ground_elevation_m
    footprint = above_ground_footprint(elements, ground)
    if footprint is None or footprint.is_empty:
        raise InputError(path, "no element stands above the ground level", "check the storey elevations")
    georef_info = json.loads(model["georef"] or "{}") | {"georef_level": model["georef_level"]}
    extent = city_extent_from(*[layers[k].geometry for k in LAYERS])
    review.checks.extend(georef_checks(georef_info, extent, footprint=footprint))
    parcel = find_parcel(footprint, layers["parcels"], parcel_id, path=path)
    layers = {**layers, "buildings_existing": _without_revised(review, city, layers, path, footprint, scratch)}
    review.parcel_id = str(parcel["parcel_id"])
    review.quantities = timer("quantities", quantity_summary, scratch, review.model_id, elements, ground)
    _site_checks(review, parcel, footprint, elements, layers, scratch, review.model_id, ground)
    ruleset = load_rules(rules_path)
    submission = load_models(scratch)
    clash = timer("clash", run_clash_checks, submission, city, ruleset, ground, config.root, now)
    review.checks.extend(clash.checks)
    review.clashes = clash.items
    basement = below_ground_footprint(elements, ground)
    review.site_plan = SitePlan(
        parcel=shapely.to_wkb(parcel.geometry), setback_line=_wkb(setback_line(parcel.geometry,
                                                                              float(parcel["min_setback_m"]))),
        red_lines=[shapely.to_wkb(g) for g in layers["road_redlines"].geometry],
        footprint=shapely.to_wkb(footprint), basement=_wkb(basement),
        neighbours=[shapely.to_wkb(g) for g in layers["buildings_existing"].geometry],
        tunnel=clash.tunnel_outline, protection_zone=clash.protection_zone, pipelines=pipeline_lines(city),
        clash_points=[(c.x, c.y, c.clash_id) for c in clash.items])
    extra["rows"], extra["meshes"], extra["frames"] = clash.rows, submission.meshes, model_frames(scratch)
    extra["scene"] = timer("3-D view", review_scene, scratch, city, review, ground)  # read while scratch exists


def _without_revised(review: Review, city: Store, layers: dict, path: Path, footprint, scratch: Store):
    """The city's existing buildings (layer and IFC models) less the one this submission revises, if any."""
    buildings = scratch.read_model("buildings", review.model_id).to_pylist()
    existing = existing_buildings(city, layers["buildings_existing"])
    revision, others = find_revision(city, existing, file_name=path.name, model_id=review.model_id,
                                     footprint=footprint, buildings=buildings)
    review.revision = revision.as_dict() if revision is not None else None
    return others


def _wkb(geom) -> bytes | None:
    return None if geom is None or geom.is_empty else shapely.to_wkb(geom)


def _city_layers(city: Store) -> dict[str, gpd.GeoDataFrame]:
    missing = [k for k in LAYERS if k not in city.layer_names()]
    if missing:
        raise StoreError(city.root, f"the city store has no {', '.join(missing)} layer",
                         "ingest the city first: make run (or cim ingest city.gpkg)")
    out = {}
    for name in LAYERS:
        table = city.read(name).to_pandas()
        table["geometry"] = shapely.from_wkb(table["geometry"])
        out[name] = gpd.GeoDataFrame(table, geometry="geometry", crs=city.crs)
    return out


def _site_checks(review: Review, parcel, footprint, elements: list[dict], layers: dict, scratch: Store,
                 model_id: str, ground: float) -> None:
    area = float(parcel.get("area_m2") or parcel.geometry.area)
    min_setback = float(parcel["min_setback_m"])
    buildings = scratch.read_model("buildings", model_id).to_pylist()
    top = max((b["top_elevation_m"] for b in buildings if b["top_elevation_m"] is not None),
              default=max(e["zmax"] for e in elements if e["zmax"] is not None))
    gfa = review.quantities["main"][GFA_ABOVE]  # the takeoff's gross floor area, above ground
    review.checks.extend([
        check_inside_parcel(footprint, parcel.geometry),
        check_setback(footprint, parcel.geometry, min_setback),
        check_red_line_setback(footprint, layers["road_redlines"], min_setback),
        check_height(top, ground, _limit(parcel, "max_height_m")),
        check_far(gfa, area, _limit(parcel, "max_far")),
        check_coverage(float(footprint.area), area, _limit(parcel, "max_coverage")),
        check_neighbours(footprint, layers["buildings_existing"]),
    ])
    if review.revision is not None:
        overlap = review.checks[-1]
        overlap.message = f"{overlap.message} This is a {review.revision['message']}."


def _limit(parcel, key: str) -> float | None:
    value = parcel.get(key)
    return None if value is None else float(value)


def error_review(model_path: Path, reason: str, crs: str | None = None) -> Review:
    """A Review that says why nothing could be checked (exit 2)."""
    return Review(str(model_path), None, "error", 2, reason=reason, crs=crs,
                  generated_at=datetime.now(UTC).replace(microsecond=0).isoformat(), code_version=__version__)

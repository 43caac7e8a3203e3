"""Check IFC files directly, without adding them to a store: a scratch copy is ingested, checked, and dropped.

Coordinators use it on models before they are accepted into the city; with a city store, the city's
protection zones (tunnel, buried pipelines) are checked too.
"""

from __future__ import annotations

import dataclasses
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from cim.clash.engine import Checker
from cim.clash.export import model_frames
from cim.clash.group import element_groups, location_groups
from cim.clash.header import model_files
from cim.clash.rows import finding_rows
from cim.clash.rules import RuleSet
from cim.clash.source import ElementSet, load_models
from cim.clash.status import fresh_rows
from cim.clash.zone_build import build_zones
from cim.config import CityConfig
from cim.errors import InputError
from cim.ingest.run import ingest_file
from cim.store import Store


@dataclasses.dataclass
class AdhocResult:
    rows: list[dict]
    meshes: dict  # key -> world mesh, for BCF snapshots
    frames: dict  # model_id -> Georef, for BCF cameras
    summary: dict
    files: dict = dataclasses.field(default_factory=dict)  # model_id -> HeaderFile, for BCF topic headers


def check_elements(elements: ElementSet, rules: RuleSet, city: Store | None, ground_z: float | None,
                   base: Path | None, now: datetime) -> tuple[Checker, list[dict]]:
    """Clashes among ``elements`` (and against the city's protection zones when ``city`` is given), as new
    clashes rows with their groups: nothing is compared with, or written to, a store."""
    checker = Checker(elements)
    if city is not None:
        checker.zones = build_zones(rules, city, checker.origin, ground_z, base)
    active = rules if city is not None else dataclasses.replace(rules, rules=tuple(r for r in rules.rules
                                                                                   if r.zone is None))
    rows = fresh_rows(list(finding_rows(checker, checker.run(active), rules.name).values()), now)
    by_element, by_place = element_groups(rows), location_groups(rows)
    for row in rows:
        row.update(element_group=by_element[row["clash_id"]], location_group=by_place[row["clash_id"]])
    return checker, rows


def check_files(paths: list[Path], rules: RuleSet, config: CityConfig, city: Store | None = None) -> AdhocResult:
    """Clashes within and between ``paths`` (and against the city's zones when ``city`` is given)."""
    now = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="cim-clash-") as tmp:
        scratch = Store(Path(tmp) / "store", city.crs if city else config.crs)
        for path in paths:
            outcome = ingest_file(scratch, config.scratch(path), path)
            if outcome.action != "ingested":
                raise InputError(path, f"cannot be checked: {outcome.message}", stage=outcome.stage)
        elements = load_models(scratch)
        checker, rows = check_elements(elements, rules, city, config.ground_elevation_m, config.root, now)
        meshes = elements.meshes([f"{r[s + '_model']}/{r[s + '_global_id']}" for r in rows for s in "ab"])
        frames = model_frames(scratch)
        files = model_files(scratch)
    summary = {"models": [str(p) for p in paths], "elements": len(elements), "tested": checker.stats.tested,
               "suppressed": checker.stats.suppressed, "found": len(rows), "per_rule": checker.stats.per_rule}
    return AdhocResult(rows, meshes, frames, summary, files)

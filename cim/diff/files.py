"""Two-file mode (``cim diff A.ifc B.ifc``): both files ingested into a scratch store as versions 1 and 2 of
one model, each with its takeoff, and diffed there. The city store is never touched; the scratch store goes
when the diff is done (the Diff keeps the footprints the report draws)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from cim.config import CityConfig
from cim.diff.compare import compare_versions
from cim.diff.model import Diff, DiffError
from cim.errors import CimError
from cim.ifc.reader import file_schema as read_schema
from cim.store import Store

log = logging.getLogger(__name__)
SCRATCH_MODEL = "diff"


def file_schema(path: Path) -> str:
    """The IFC schema a file declares (exporters' aliases resolved), read from its header only."""
    if not path.is_file():
        raise DiffError(path, "no such file", "pass two IFC files: cim diff OLD.ifc NEW.ifc")
    try:
        return read_schema(path)
    except CimError as exc:
        raise DiffError(path, exc.reason, exc.hint) from exc


def check_same_schema(old: Path, new: Path) -> str:
    a, b = file_schema(old), file_schema(new)
    if a != b:
        raise DiffError(new, f"is {b} but {old.name} is {a}: files of different IFC schemas cannot be compared "
                             "element by element", f"export both as {a} (or both as {b}) first, then run cim diff")
    return a


def crs_centre(crs: str) -> dict:
    """A placement at the centre of the CRS's area of use: where two files without georeferencing are put, both
    the same way, so that they can be compared (their positions are then relative to each other only)."""
    from pyproj import CRS, Transformer

    area = CRS.from_user_input(crs).area_of_use
    lon, lat = (area.west + area.east) / 2, (area.south + area.north) / 2
    e, n = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
    return {"eastings": round(e, 3), "northings": round(n, 3), "height": 0.0, "rotation_deg": 0.0}


def _ingest_both(store: Store, config: CityConfig, paths: tuple[Path, Path], placement: dict | None,
                 workers: int) -> str | None:
    """Ingest both files as versions 1 and 2 (with their takeoff); the georef refusal, if that is what stopped
    it (then the caller tries again with a shared placement)."""
    from cim.ingest.run import ingest_file
    from cim.qto.run import takeoff

    for path in paths:
        scratch = config.scratch(path, SCRATCH_MODEL)
        if placement is not None:
            scratch.models[path.name] = {**scratch.models[path.name], "placement": placement}
        outcome = ingest_file(store, scratch, path, workers=workers, force=True)
        if outcome.action != "ingested":
            if outcome.stage == "georef" and placement is None:
                return outcome.message
            raise DiffError(path, f"could not be ingested: {outcome.message or outcome.action}",
                            "fix the file (see the message), then run cim diff again")
        try:
            takeoff(store, SCRATCH_MODEL, ifc_path=path, approximate=True)
        except CimError as exc:  # quantities are extra: the element diff stands without them
            log.warning("takeoff of %s failed: %s", path, exc.one_line())
    return None


def diff_files(old: Path, new: Path, config: CityConfig, crs: str | None = None, workers: int = 1) -> Diff:
    """The Diff of two IFC files, ingested into a temporary store in ``crs`` (default: the config's). Files
    without georeferencing are both placed at the centre of the CRS's area of use (and the report says so)."""
    old, new = Path(old), Path(new)
    check_same_schema(old, new)
    crs = crs or config.crs
    placed = None
    with tempfile.TemporaryDirectory(prefix="cim-diff-") as tmp:
        store = Store(Path(tmp) / "store", crs)
        ingest_log = logging.getLogger("cim.ingest.run")
        level, ingest_log.level = ingest_log.level, logging.ERROR  # a georef refusal here is retried, not news
        try:
            refused = _ingest_both(store, config, (old, new), None, workers)
        finally:
            ingest_log.setLevel(level)
        if refused is not None:
            placed = crs_centre(crs)
            store = Store(Path(tmp) / "placed", crs)
            _ingest_both(store, config, (old, new), placed, workers)
        diff = compare_versions(store, SCRATCH_MODEL, 1, 2)
    diff.model_id = f"{old.name} -> {new.name}"
    for row in diff.changes:
        row["model_id"] = diff.model_id
    diff.notes = [n for n in diff.notes if "clash check" not in n]
    diff.notes.append("two-file mode: no clash check is run on the scratch copies, so there are no clash deltas")
    if placed is not None:
        diff.notes.append(f"a file is not georeferenced: both were placed at E {placed['eastings']}, N "
                          f"{placed['northings']} ({crs}) to be compared; coordinates are relative, not the city's")
    return diff

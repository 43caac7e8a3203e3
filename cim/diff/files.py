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
from cim.ifc.reader import ALIASES, HEADER_BYTES, declared_schema
from cim.store import Store

log = logging.getLogger(__name__)
SCRATCH_MODEL = "diff"


def file_schema(path: Path) -> str:
    """The IFC schema a file declares (exporters' aliases resolved), read from its header only."""
    if not path.is_file():
        raise DiffError(path, "no such file", "pass two IFC files: cim diff OLD.ifc NEW.ifc")
    with path.open("rb") as fh:
        head = fh.read(HEADER_BYTES)
    try:
        name = declared_schema(path, head).upper()
    except CimError as exc:
        raise DiffError(path, exc.reason, exc.hint) from exc
    return ALIASES.get(name, name)


def check_same_schema(old: Path, new: Path) -> str:
    a, b = file_schema(old), file_schema(new)
    if a != b:
        raise DiffError(new, f"is {b} but {old.name} is {a}: files of different IFC schemas cannot be compared "
                             "element by element", f"export both as {a} (or both as {b}) first, then run cim diff")
    return a


def diff_files(old: Path, new: Path, config: CityConfig, crs: str | None = None, workers: int = 1) -> Diff:
    """The Diff of two IFC files, ingested into a temporary store in ``crs`` (default: the config's)."""
    from cim.ingest.run import ingest_file
    from cim.qto.run import takeoff

    old, new = Path(old), Path(new)
    check_same_schema(old, new)
    with tempfile.TemporaryDirectory(prefix="cim-diff-") as tmp:
        store = Store(Path(tmp) / "store", crs or config.crs)
        for path in (old, new):
            outcome = ingest_file(store, config.scratch(path, SCRATCH_MODEL), path, workers=workers, force=True)
            if outcome.action != "ingested":
                raise DiffError(path, f"could not be ingested: {outcome.message or outcome.action}",
                                "fix the file (see the message), then run cim diff again")
            try:
                takeoff(store, SCRATCH_MODEL, ifc_path=path, approximate=True)
            except CimError as exc:  # quantities are extra: the element diff stands without them
                log.warning("takeoff of %s failed: %s", path, exc.one_line())
        diff = compare_versions(store, SCRATCH_MODEL, 1, 2)
    diff.model_id = f"{old.name} -> {new.name}"
    for row in diff.changes:
        row["model_id"] = diff.model_id
    diff.notes = [n for n in diff.notes if "clash check" not in n]
    diff.notes.append("two-file mode: no clash check is run on the scratch copies, so there are no clash deltas")
    return diff

"""What every gate shares: taking a file in as a new version, finding a version's file, writing the report.

A gate never changes the store before it knows it may run: ``check_file`` (schema, already judged) and
``order.require`` come first, the ingest after, the lifecycle row last.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cim import __version__
from cim.config import CityConfig, resolve_source
from cim.errors import CimError
from cim.lifecycle.record import AlreadyDecided, GateRefused, sha256_file
from cim.store import Store

REPORTS = Path("gates")  # default: gates/<model_id>/v<version>-<gate>/report.json


@dataclass
class GateResult:
    """A gate's outcome: exit 0 pass, 1 fail (a row is written either way), the report and the row."""

    gate: str
    model_id: str
    version: int
    passed: bool
    report_path: Path
    report: dict
    row: dict = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1


def schema_family(name: str | None) -> str:
    """IFC4X3_ADD2 and IFC4X3 are one family, IFC4 another: ``IFC4X3``, ``IFC4``, ``IFC2X3``."""
    return (name or "").upper().split("_")[0]


def file_schema(path: Path) -> str | None:
    """The schema a STEP file declares in its header, read without parsing the file."""
    from cim.ifc.reader import file_schema as read_schema

    try:
        return read_schema(path)
    except OSError as exc:
        raise GateRefused(path, f"cannot read the file: {exc.strerror or exc}", "check the path") from exc
    except CimError:  # not IFC, or no FILE_SCHEMA: the ingest that follows says which, in its own words
        return None


def check_file(store: Store, model_id: str, gate: str, path: Path, rows: list[dict],
               plan_schema: str | None = None) -> str:
    """Refuse a file before it is ingested: missing, another schema than the approved plan, or a file this gate
    already judged (same bytes). Returns its sha256."""
    if not Path(path).is_file():
        raise GateRefused(path, "no such file", "pass the path of the IFC model")
    declared = file_schema(path)
    if plan_schema and schema_family(declared) != schema_family(plan_schema):
        raise GateRefused(path, f"the file is {declared or 'not IFC'} but the approved plan of {model_id!r} is "
                                f"{plan_schema}", f"export the model as {plan_schema}, like the approved plan")
    digest = sha256_file(path)
    judged = {r["version"] for r in rows if r["gate"] == gate}
    for m in store.read("models", filters=[("model_id", "=", model_id)]).to_pylist():
        if m["version"] in judged and m["sha256"] == digest:
            raise AlreadyDecided(path, f"the {gate} gate already judged this file (v{m['version']} of {model_id!r})",
                              f"see `cim lifecycle {model_id}`; change the model to have it judged again")
    return digest


def ingest_version(store: Store, config: CityConfig, model_id: str, path: Path, phase: str = "build", *,
                   workers: int = 2) -> int:
    """Ingest ``path`` as the next version of ``model_id`` in ``phase``; the version stored (an unchanged file
    is its existing version)."""
    from cim.ingest.run import ingest_file

    path = Path(path)
    cfg = dataclasses.replace(config, path=None, default_phase=phase,
                              models={**config.models, path.name: {"model_id": model_id, "phase": phase}})
    outcome = ingest_file(store, cfg, path, workers=workers)
    if outcome.action == "quarantined":
        raise GateRefused(path, f"the model could not be ingested: {outcome.message}",
                          "fix the file (see ingest_errors) and run the gate again")
    if model_id not in outcome.model_ids:
        raise GateRefused(path, f"the file was stored as {outcome.model_ids}, not {model_id!r}", "")
    latest = store.latest(model_id)
    return outcome.versions[0] if outcome.versions else latest["version"]


def version_file(model: dict) -> Path:
    """The IFC file a ``models`` row was ingested from, unchanged since; a refusal naming the fix otherwise."""
    path = resolve_source(model["source_path"], model.get("source_root"))
    hint = f"pass the file with --ifc (its sha256 was {model['sha256'][:12]}...)"
    if not path.is_file():
        raise GateRefused(path, f"the file of v{model['version']} of {model['model_id']!r} is gone", hint)
    if sha256_file(path) != model["sha256"]:
        raise GateRefused(path, f"the file of v{model['version']} of {model['model_id']!r} changed since it was "
                                "ingested", hint)
    return path


def report_dir(model_id: str, version: int, gate: str, out: Path | None, reports: Path | None = None) -> Path:
    """``out`` as given, else ``<reports>/<model_id>/v<version>-<gate>`` (``reports`` defaults to ./gates; the
    nightly flow passes ``<store>/gates`` so its evidence lives with the store, not in its working folder)."""
    return out if out is not None else (reports or REPORTS) / model_id / f"v{version}-{gate}"


def write_report(folder: Path, report: dict) -> Path:
    """report.json in ``folder`` (created): the evidence a lifecycle row hashes."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "report.json"
    body = {"generated_at": datetime.now(UTC).replace(microsecond=0).isoformat(), "code_version": __version__,
            **report}
    path.write_text(json.dumps(body, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return path

"""What a COBie export reads: the model's current version in the store, and its source IFC for what the store
does not keep (project, contacts, owner history dates, zones, system and type entities, documents).

The store gives every element with its storey, type, systems, materials, classification, property sets and
georeferenced bounds (city CRS); the IFC file is opened once, and must be the very file of the current version
(same SHA-256), so the two never disagree.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cim.errors import CimError


class CobieError(CimError):
    stage = "cobie"


@dataclass
class Source:
    """One model's data for its COBie workbook."""

    model: dict  # the models row of the current version
    elements: list[dict]  # elements rows (psets/qsets parsed)
    relations: list[dict]
    ifc: object  # ifcopenshell.file
    path: Path
    by_step: dict[int, object] = field(default_factory=dict)  # step_id -> IFC entity

    def entity(self, el: dict):
        return self.by_step.get(el["step_id"])

    def is_a(self, el: dict, ifc_class: str) -> bool:
        entity = self.entity(el)
        try:
            return bool(entity is not None and entity.is_a(ifc_class))
        except RuntimeError:  # a class this schema does not have
            return False


def source_file(store, model: dict) -> Path:
    from cim.config import resolve_source

    return resolve_source(model["source_path"], model.get("source_root"))


def load(store, model_id: str) -> Source:
    """The current version of ``model_id`` and its source IFC; refused in one line when either is missing."""
    import ifcopenshell

    from cim.ingest.ifc import file_sha256

    model = store.latest(model_id)
    if model is None:
        raise CobieError(store.root, f"no model {model_id!r} in the store", "ingest it first with `cim ingest`, "
                         "or list the models with `cim query \"SELECT model_id FROM current_models\"`")
    if model["kind"] != "ifc":
        raise CobieError(store.root, f"{model_id!r} is a GIS layer", "COBie is written for IFC models")
    path = source_file(store, model)
    if not path.is_file():
        raise CobieError(path, f"the IFC file {model_id!r} version {model['version']} was ingested from is not there",
                         "put the file back, or ingest the model again from where it is now (cim ingest)")
    if file_sha256(path) != model["sha256"]:
        raise CobieError(path, f"this file changed since version {model['version']} of {model_id!r} was ingested",
                         "ingest it again first (cim ingest), then export")
    try:
        ifc = ifcopenshell.open(str(path))
    except Exception as exc:  # noqa: BLE001 - the parser raises several types; one line for all
        raise CobieError(path, f"the IFC file cannot be read: {exc}", "ingest a readable file") from exc
    elements = store.read_model("elements", model_id, model["version"]).to_pylist()
    for el in elements:
        el["psets"] = json.loads(el["psets"]) if el.get("psets") else {}
        el["qsets"] = json.loads(el["qsets"]) if el.get("qsets") else {}
    relations = (store.read_model("relations", model_id, model["version"]).to_pylist()
                 if store.has_table("relations") else [])
    by_step = {}
    for el in elements:
        try:
            by_step[el["step_id"]] = ifc.by_id(el["step_id"])
        except RuntimeError:
            continue
    return Source(model, elements, relations, ifc, path, by_step)


def created_on(src: Source) -> str:
    """When the model was made: the project's owner history, else the IFC header time stamp, else the ingest."""
    import ifcopenshell.util.date

    project = (src.ifc.by_type("IfcProject") or [None])[0]
    history = getattr(project, "OwnerHistory", None) if project is not None else None
    when = None
    if history is not None and history.CreationDate:
        when = ifcopenshell.util.date.ifc2datetime(history.CreationDate)
    if when is None:
        stamp = str(src.ifc.header.file_name.time_stamp or "")
        try:
            when = datetime.fromisoformat(stamp)
        except ValueError:
            when = None
    if when is None:
        when = src.model["ingested_at"]
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when.replace(microsecond=0).isoformat()


def _emails(address_owner) -> list[str]:
    out = []
    for address in getattr(address_owner, "Addresses", None) or []:
        if address.is_a("IfcTelecomAddress"):
            out.extend(a for a in (address.ElectronicMailAddresses or []) if a and "@" in a)
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", ".", text.lower()).strip(".") or "unknown"


def contacts(src: Source) -> list[dict]:
    """People and organisations of the model: actors and owner-history users, with their e-mail.

    An organisation without an e-mail gets ``<identification>@unknown.invalid`` (RFC 2606: never deliverable),
    so it can still be named in CreatedBy; the Description says so."""
    found: dict[str, dict] = {}
    parties = [a.TheActor for a in src.ifc.by_type("IfcActor")]
    parties += [h.OwningUser for h in src.ifc.by_type("IfcOwnerHistory") if h.OwningUser]
    for party in parties:
        person = getattr(party, "ThePerson", None) if party.is_a("IfcPersonAndOrganization") else (
            party if party.is_a("IfcPerson") else None)
        org = getattr(party, "TheOrganization", None) if party.is_a("IfcPersonAndOrganization") else (
            party if party.is_a("IfcOrganization") else None)
        emails = (_emails(person) if person else []) + (_emails(org) if org else [])
        # IFC4 Identification, IFC2X3 Id
        code = (getattr(org, "Identification", None) or getattr(org, "Id", None)) if org is not None else None
        ident = code or (
            org.Name if org is not None else None) or " ".join(
            filter(None, (getattr(person, "GivenName", None), getattr(person, "FamilyName", None)))) or "unknown"
        email = emails[0] if emails else f"{_slug(ident)}@unknown.invalid"
        found.setdefault(email, {
            "Email": email, "Company": (org.Name if org is not None else None), "OrganizationCode": ident,
            "GivenName": getattr(person, "GivenName", None), "FamilyName": getattr(person, "FamilyName", None),
            "ExtObject": party.is_a(), "ExtIdentifier": str(party.id()),
            "Department": None if emails else "no e-mail address in the model",
        })
    if not found:
        app = src.model.get("authoring_application") or "unknown application"
        found["unknown@unknown.invalid"] = {
            "Email": "unknown@unknown.invalid", "Company": app, "OrganizationCode": "unknown",
            "ExtObject": "IfcApplication", "ExtIdentifier": "n/a",
            "Department": "the model names no person or organisation",
        }
    return list(found.values())


def creator_email(src: Source, rows: list[dict]) -> str:
    """The e-mail of the owning user of the project's owner history, else of the first contact."""
    project = (src.ifc.by_type("IfcProject") or [None])[0]
    history = getattr(project, "OwnerHistory", None) if project is not None else None
    if history is not None and history.OwningUser is not None:
        owner = str(history.OwningUser.id())
        match = next((r["Email"] for r in rows if r["ExtIdentifier"] == owner), None)
        if match:
            return match
    return rows[0]["Email"]


def units(ifc) -> tuple[str, str, str]:
    """COBie names of the project's length, area and volume units (pick-list spelling)."""
    import ifcopenshell.util.unit

    names = {"METRE": "meters", "MILLIMETRE": "millimeters", "FOOT": "feet", "INCH": "inches",
             "SQUARE_METRE": "square meters", "SQUARE_MILLIMETRE": "square millimeters", "SQUARE_FOOT": "square feet",
             "CUBIC_METRE": "cubic meters", "CUBIC_MILLIMETRE": "cubic millimeters", "CUBIC_FOOT": "cubic feet"}
    out = []
    for unit_type, default in (("LENGTHUNIT", "meters"), ("AREAUNIT", "square meters"),
                               ("VOLUMEUNIT", "cubic meters")):
        unit = ifcopenshell.util.unit.get_project_unit(ifc, unit_type)
        name = ifcopenshell.util.unit.get_full_unit_name(unit).upper().replace(" ", "_") if unit else ""
        out.append(names.get(name, default))
    return out[0], out[1], out[2]

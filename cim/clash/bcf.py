"""Clash results as a BCF 2.1 or 3.0 zip (.bcfzip) that Bonsai, BIMcollab, Solibri and Navisworks open.

Layout: ``bcf.version``, ``project.bcfp`` (ProjectId, Name), the extension values used (TopicType,
TopicStatus, Priority, TopicLabel, users: 2.1 ``extensions.xsd``, 3.0 ``extensions.xml``), then one folder
per topic GUID with ``markup.bcf`` (its Header names the IFC file of each selected component),
``viewpoint.bcfv`` and, when given, ``snapshot.png``.

Why not bcf-client's ``BcfXml.create_new`` / ``add_topic`` / ``save``: the XML itself is bcf-client's (its
schema-generated model classes and serializer, see cim.clash.bcf_xml), but its writer draws topic, viewpoint
and comment GUIDs from ``uuid4`` and creation dates from the clock, zips with the current time and writes the
target file in place, so every export would be a new set of topics with new bytes. BIMcollab and Solibri
update a topic only when its GUID is the one they imported, so this module keeps the GUIDs (uuid5, below),
the zip layout and the fixed zip timestamps itself, and writes atomically.

Status mapping (cim clash status -> BCF TopicStatus), see ``STATUS_TO_BCF``:
``new`` -> ``Open``, ``active`` -> ``Active``, ``resolved`` -> ``Resolved`` (the clash is gone from a
later run), ``approved`` -> ``Closed`` (accepted as built: nothing left to do, like Navisworks'
"Approved"). Priority (rule severity): critical/major/minor/info -> Critical/Major/Minor/Info.

Coordinates: BCF viewers place cameras in the IFC project's coordinate system, so the caller passes
``camera_point`` and ``focus_bounds`` already in the frame it wants. cim passes model-local
(engineering) coordinates when it knows the model's map conversion, else city CRS coordinates
(EPSG:4549 metres); this module does no transformation.

Stability: the topic GUID comes from the caller (uuid5 of the clash identity); the viewpoint and
comment GUIDs are uuid5 of the topic GUID, so a rerun over the same clashes writes a byte-identical
file (fixed zip timestamps, fixed entry order, deterministic XML).
"""

from __future__ import annotations

import re
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cim.clash import bcf_xml
from cim.clash.bcf_xml import VERSIONS, HeaderFile, MarkupData
from cim.errors import InputError
from cim.files import write_atomic

STATUS_TO_BCF = {"new": "Open", "active": "Active", "resolved": "Resolved", "approved": "Closed"}
PRIORITY_TO_BCF = {"critical": "Critical", "major": "Major", "minor": "Minor", "info": "Info"}
EXTENSIONS_FILE = {"2.1": "extensions.xsd", "3.0": "extensions.xml"}
VIEWPOINT_FILE = "viewpoint.bcfv"
SNAPSHOT_FILE = "snapshot.png"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip can hold: no clock in the bytes

_BCF_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_IFC_GUID = re.compile(r"^[0-9A-Za-z_$]{22}$")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class BcfComponent:
    """One selected element. A feature without a 22-character IFC GlobalId is listed in the description."""

    ifc_guid: str
    originating_system: str | None = None
    authoring_tool_id: str | None = None


@dataclass
class BcfTopic:
    """One clash as a BCF topic; ``guid`` is derived by the caller so reruns keep the same topic."""

    guid: str
    title: str
    description: str
    status: str  # cim clash status: new | active | resolved | approved
    priority: str | None  # rule severity: critical | major | minor | info
    topic_type: str  # e.g. "Clash"
    labels: list[str]
    creation_date: datetime  # first seen
    modified_date: datetime | None
    author: str
    selected: list[BcfComponent]
    camera_point: tuple[float, float, float]  # in the BCF camera's frame (see module docstring)
    focus_bounds: tuple[float, ...]  # xmin, ymin, zmin, xmax, ymax, zmax of both elements, same frame
    snapshot_png: bytes | None
    reference_link: str | None = None
    comments: list[tuple[datetime, str, str]] = field(default_factory=list)  # (date, author, text)
    files: list[HeaderFile] = field(default_factory=list)  # the IFC files the selected components come from


def bcf_status(status: str, path: Path) -> str:
    """The BCF TopicStatus of a cim clash status; an unknown status is a caller bug worth stopping for."""
    try:
        return STATUS_TO_BCF[status]
    except KeyError:
        raise InputError(path, f"unknown clash status {status!r}", f"use one of {', '.join(STATUS_TO_BCF)}",
                         stage="bcf") from None


def bcf_priority(priority: str | None, path: Path) -> str | None:
    """The BCF Priority of a rule severity (None stays None)."""
    if priority is None:
        return None
    try:
        return PRIORITY_TO_BCF[priority]
    except KeyError:
        raise InputError(path, f"unknown clash severity {priority!r}", f"use one of {', '.join(PRIORITY_TO_BCF)}",
                         stage="bcf") from None


def _check_topic(topic: BcfTopic, path: Path) -> None:
    """Refuse what a viewer would refuse later, naming the topic, so the caller fixes it at the source."""
    where = f"topic {topic.guid!r}"
    if not _BCF_GUID.match(topic.guid):
        raise InputError(path, f"{where}: the GUID is not a UUID in 8-4-4-4-12 form", "derive it with uuid.uuid5",
                         stage="bcf")
    if len(topic.camera_point) != 3 or len(topic.focus_bounds) != 6:
        raise InputError(path, f"{where}: camera_point needs 3 numbers and focus_bounds 6",
                         "pass xmin, ymin, zmin, xmax, ymax, zmax", stage="bcf")
    lo, hi = topic.focus_bounds[:3], topic.focus_bounds[3:]
    if any(a > b for a, b in zip(lo, hi, strict=True)):
        raise InputError(path, f"{where}: focus_bounds minimum exceeds maximum", "pass xmin, ymin, zmin, xmax, ...",
                         stage="bcf")
    if topic.snapshot_png is not None and not topic.snapshot_png.startswith(_PNG_SIGNATURE):
        raise InputError(path, f"{where}: snapshot_png is not a PNG image", "pass render_pair's output or None",
                         stage="bcf")


def _split_selected(components: list[BcfComponent]) -> tuple[list[tuple[str, str | None, str | None]], list[str]]:
    """Components a viewer can select (valid IfcGuid, deduplicated, in the given order) and the rest."""
    selectable: list[tuple[str, str | None, str | None]] = []
    other: list[str] = []
    seen: set[str] = set()
    for component in components:
        if not _IFC_GUID.match(component.ifc_guid or ""):
            other.append(component.ifc_guid or "(no id)")
        elif component.ifc_guid not in seen:
            seen.add(component.ifc_guid)
            selectable.append((component.ifc_guid, component.originating_system, component.authoring_tool_id))
    return selectable, other


def _description(topic: BcfTopic, unselectable: list[str]) -> str:
    if not unselectable:
        return topic.description
    note = "Not selectable in BCF (no IFC GlobalId): " + ", ".join(unselectable) + "."
    return f"{topic.description}\n\n{note}" if topic.description else note


def _comment_rows(topic: BcfTopic) -> list[tuple[str, datetime, str, str]]:
    """Comments with GUIDs derived from their content, so they survive reordering and reruns."""
    base = uuid.UUID(topic.guid)
    rows: list[tuple[str, datetime, str, str]] = []
    used: set[str] = set()
    for date, author, text in topic.comments:
        name = f"comment/{bcf_xml.iso(date)}/{author}/{text}"
        guid = str(uuid.uuid5(base, name))
        n = 1
        while guid in used:  # the same comment twice: keep both, with distinct GUIDs
            n += 1
            guid = str(uuid.uuid5(base, f"{name}/{n}"))
        used.add(guid)
        rows.append((guid, date, author, text))
    return rows


def topic_entries(topic: BcfTopic, path: Path, version: str = "2.1") -> dict[str, bytes]:
    """The zip entries of one topic folder, keyed by their name inside the zip."""
    _check_topic(topic, path)
    selectable, unselectable = _split_selected(topic.selected)
    viewpoint_guid = str(uuid.uuid5(uuid.UUID(topic.guid), "viewpoint/1"))
    try:
        markup = bcf_xml.markup_xml(version, MarkupData(
            guid=topic.guid, topic_type=topic.topic_type, topic_status=bcf_status(topic.status, path),
            reference_link=topic.reference_link, title=topic.title, priority=bcf_priority(topic.priority, path),
            labels=topic.labels, creation_date=topic.creation_date, author=topic.author,
            modified_date=topic.modified_date, description=_description(topic, unselectable),
            comments=_comment_rows(topic), viewpoint_guid=viewpoint_guid, viewpoint_file=VIEWPOINT_FILE,
            snapshot_file=SNAPSHOT_FILE if topic.snapshot_png is not None else None, files=topic.files,
        ))
        visinfo = bcf_xml.visinfo_xml(version, guid=viewpoint_guid, selected=selectable, point=topic.camera_point,
                                      bounds=topic.focus_bounds)
    except ValueError as exc:
        raise InputError(path, f"topic {topic.guid!r}: {exc}", "pass finite coordinates", stage="bcf") from exc
    entries = {f"{topic.guid}/": b"", f"{topic.guid}/markup.bcf": markup, f"{topic.guid}/{VIEWPOINT_FILE}": visinfo}
    if topic.snapshot_png is not None:
        entries[f"{topic.guid}/{SNAPSHOT_FILE}"] = topic.snapshot_png
    return entries


def _extension_values(topics: list[BcfTopic]) -> dict[str, list[str]]:
    """Every value a reader may meet: all mapped statuses and priorities, the types, labels and users used."""
    users = {t.author for t in topics} | {author for t in topics for _, author, _ in t.comments}
    return {
        "TopicType": sorted({t.topic_type for t in topics}),
        "TopicStatus": list(dict.fromkeys(STATUS_TO_BCF.values())),
        "Priority": list(PRIORITY_TO_BCF.values()),
        "TopicLabel": sorted({label for t in topics for label in t.labels}),
        "UserIdType": sorted(users),
    }


def bcf_entries(topics: list[BcfTopic], project_name: str, project_id: str, path: Path,
                version: str = "2.1") -> list[tuple[str, bytes]]:
    """All zip entries in write order: the root files, then each topic folder by GUID."""
    if version not in VERSIONS:
        raise InputError(path, f"BCF version {version!r} is not one of {', '.join(VERSIONS)}",
                         "pass --bcf-version 2.1 or 3.0", stage="bcf")
    guids = [t.guid for t in topics]
    duplicates = sorted({g for g in guids if guids.count(g) > 1})
    if duplicates:
        raise InputError(path, f"topic GUIDs used twice: {', '.join(duplicates)}",
                         "derive each GUID from the clash identity", stage="bcf")
    extensions = EXTENSIONS_FILE[version]
    write_extensions = bcf_xml.extensions_xsd if version == "2.1" else bcf_xml.extensions_xml
    entries = [
        ("bcf.version", bcf_xml.version_xml(version)),
        ("project.bcfp", bcf_xml.project_xml(version, project_id, project_name, extensions)),
        (extensions, write_extensions(_extension_values(topics))),
    ]
    for topic in sorted(topics, key=lambda t: t.guid):
        entries.extend(sorted(topic_entries(topic, path, version).items()))
    return entries


def _zip_bytes_to(handle, entries: list[tuple[str, bytes]]) -> None:
    with zipfile.ZipFile(handle, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.create_system = 3  # Unix, on every machine: part of the bytes
            is_dir = name.endswith("/")
            info.external_attr = ((0o40755 if is_dir else 0o100644) << 16) | (0x10 if is_dir else 0)
            info.compress_type = zipfile.ZIP_STORED if is_dir or name.endswith(".png") else zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=6 if info.compress_type == zipfile.ZIP_DEFLATED else None)


def write_bcfzip(path: Path, topics: list[BcfTopic], project_name: str, project_id: str,
                 version: str = "2.1") -> Path:
    """Write ``topics`` to ``path`` as BCF ``version`` (2.1 or 3.0) atomically (temp file, then rename).

    The same topics always give the same bytes, so a rerun leaves an unchanged file unchanged for
    version control and sync tools.
    """
    path = Path(path)
    entries = bcf_entries(topics, project_name, project_id, path, version)
    write_atomic(path, lambda fh: _zip_bytes_to(fh, entries), what="BCF file")
    return path

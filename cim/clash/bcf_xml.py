"""The XML documents of a BCF 2.1 or 3.0 zip, built as bcf-client's model objects and serialized by bcf-client.

bcf-client's ``bcf.v2.model`` and ``bcf.v3.model`` classes are generated (xsdata) from buildingSMART's
BCF-XML schemas, so the element order of every ``xs:sequence`` and the 2.1/3.0 differences (3.0 nests
comments and viewpoints inside the Topic, wraps header files in ``Files``, needs a camera AspectRatio and
lists extension values in ``extensions.xml``) come from the schemas, not from this module. This module only
fills them in: every GUID and value comes from the caller, so the same input gives the same bytes.

The one document written by hand is BCF 2.1's ``extensions.xsd``: it is an XML Schema redefining markup.xsd's
types, and bcf-client has no model class for it (it only reads it).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import bcf.v2.model as m2
import bcf.v3.model as m3
from bcf.xml_parser import XmlParserSerializer
from xsdata.models.datatype import XmlDateTime

VERSIONS = ("2.1", "3.0")
XS = "http://www.w3.org/2001/XMLSchema"
FIELD_OF_VIEW = 60.0  # degrees; BCF 2.1 advises 45..60 and most viewers read it as the vertical angle
ASPECT_RATIO = 4 / 3  # BCF 3.0 requires it; the snapshot is 640 x 480
MIN_CAMERA_DISTANCE = 1.0  # m: keeps the camera outside a millimetre-sized clash
CAMERA_OFFSET = (1.0, -1.0, 0.8)  # from the target towards the camera: south-east and above, like an axonometric
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # characters XML 1.0 cannot hold
_XML = XmlParserSerializer()


@dataclass(frozen=True)
class HeaderFile:
    """One IFC file a topic's components come from (BCF markup Header/File)."""

    filename: str
    date: datetime | None = None  # when the file was ingested (or last modified)
    reference: str | None = None  # where to find it: a path or URL
    ifc_project: str | None = None  # GlobalId of its IfcProject
    ifc_spatial_structure_element: str | None = None  # GlobalId of the building (or site) of the components


@dataclass(frozen=True)
class MarkupData:
    """Everything a markup.bcf holds; comments are (guid, date, author, text)."""

    guid: str
    topic_type: str
    topic_status: str
    reference_link: str | None
    title: str
    priority: str | None
    labels: Sequence[str]
    creation_date: datetime
    author: str
    modified_date: datetime | None
    description: str
    comments: Sequence[tuple[str, datetime, str, str]]
    viewpoint_guid: str
    viewpoint_file: str
    snapshot_file: str | None
    files: Sequence[HeaderFile] = ()


def _check_version(version: str) -> None:
    if version not in VERSIONS:
        raise ValueError(f"BCF version {version!r} is not one of {', '.join(VERSIONS)}")


def to_bytes(obj: object) -> bytes:
    """bcf-client's serializer (UTF-8 declaration, two-space indent, schema order), without the unused
    ``xmlns:xs`` declaration its ``serialize`` adds to every root."""
    return (_XML.serializer.render(obj).rstrip("\n") + "\n").encode("utf-8")


def iso(value: datetime) -> str:
    """ISO 8601 with offset, in UTC; a naive datetime is taken as UTC (never the machine's local time)."""
    return _utc(value).isoformat(timespec="seconds")


def _utc(value: datetime) -> datetime:
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.replace(microsecond=0)


def _date(value: datetime) -> XmlDateTime:
    return XmlDateTime.from_datetime(_utc(value))


def num(value: float, digits: int = 6) -> str:
    """A finite number with at most ``digits`` decimals and no trailing zeros (byte-stable across runs)."""
    text = f"{rounded(value, digits):.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def rounded(value: float, digits: int) -> float:
    """``value`` rounded, never -0.0; refuses NaN and infinity (no viewer can place them)."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    return round(float(value), digits) + 0.0


def clean(text: str) -> str:
    """Drop control characters that XML 1.0 forbids (IFC names sometimes carry them)."""
    return _NOT_XML.sub("", text)


def version_xml(version: str) -> bytes:
    """bcf.version: VersionId (and, in 2.1, the DetailedVersion text)."""
    _check_version(version)
    if version == "2.1":
        return to_bytes(m2.Version(version_id="2.1", detailed_version="2.1"))
    return to_bytes(m3.Version(version_id="3.0"))


def project_xml(version: str, project_id: str, name: str, extension_schema: str) -> bytes:
    """project.bcfp: 2.1 ProjectExtension(Project, ExtensionSchema); 3.0 ProjectInfo(Project)."""
    _check_version(version)
    if version == "2.1":
        return to_bytes(m2.ProjectExtension(project=m2.Project(project_id=project_id, name=clean(name)),
                                            extension_schema=extension_schema))
    return to_bytes(m3.ProjectInfo(project=m3.Project(project_id=project_id, name=clean(name))))


def extensions_xsd(values: dict[str, Iterable[str]]) -> bytes:
    """BCF 2.1 extensions.xsd: redefine markup.xsd's free-text types as the enumerations this file uses.

    ``values`` maps a markup.xsd simple type (TopicType, TopicStatus, Priority, TopicLabel, UserIdType)
    to its allowed values; an empty list leaves the type free text.
    """
    # literal "xs:" names: etree's namespace handling cannot mix a default namespace with plain attributes
    root = ET.Element("xs:schema", {"xmlns:xs": XS})
    redefine = ET.SubElement(root, "xs:redefine", schemaLocation="markup.xsd")
    for type_name, allowed in values.items():
        simple = ET.SubElement(redefine, "xs:simpleType", name=type_name)
        restriction = ET.SubElement(simple, "xs:restriction", base=type_name)
        for value in allowed:
            ET.SubElement(restriction, "xs:enumeration", value=clean(value))
    ET.indent(root, space="  ")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n").encode()


def extensions_xml(values: dict[str, Iterable[str]]) -> bytes:
    """BCF 3.0 extensions.xml: the values of each list this file uses (an empty list is left out)."""
    def listed(key: str) -> list[str]:
        return [clean(v) for v in values.get(key, ())]

    ext = m3.Extensions(
        topic_types=m3.ExtensionsTopicTypes(topic_type=listed("TopicType")) if listed("TopicType") else None,
        topic_statuses=m3.ExtensionsTopicStatuses(topic_status=listed("TopicStatus")) if listed("TopicStatus")
        else None,
        priorities=m3.ExtensionsPriorities(priority=listed("Priority")) if listed("Priority") else None,
        topic_labels=m3.ExtensionsTopicLabels(topic_label=listed("TopicLabel")) if listed("TopicLabel") else None,
        users=m3.ExtensionsUsers(user=listed("UserIdType")) if listed("UserIdType") else None)
    return to_bytes(ext)


def _header(version: str, files: Sequence[HeaderFile]):
    if not files:
        return None
    mdl = m2 if version == "2.1" else m3
    rows = [(mdl.HeaderFile if version == "2.1" else mdl.File)(
        filename=clean(f.filename) or None, date=_date(f.date) if f.date else None,
        reference=clean(f.reference) if f.reference else None, ifc_project=f.ifc_project,
        ifc_spatial_structure_element=f.ifc_spatial_structure_element, is_external=True) for f in files]
    return m2.Header(file=rows) if version == "2.1" else m3.Header(files=m3.HeaderFiles(file=rows))


def markup_xml(version: str, data: MarkupData) -> bytes:
    """markup.bcf of one topic, with its header files, comments and one viewpoint."""
    _check_version(version)
    mdl = m2 if version == "2.1" else m3
    comments = [mdl.Comment(guid=guid, date=_date(date), author=clean(author), comment=clean(text))
                for guid, date, author, text in data.comments]
    viewpoint = mdl.ViewPoint(guid=data.viewpoint_guid, viewpoint=data.viewpoint_file, snapshot=data.snapshot_file)
    common = dict(
        guid=data.guid, topic_type=clean(data.topic_type), topic_status=data.topic_status, title=clean(data.title),
        priority=data.priority, creation_date=_date(data.creation_date), creation_author=clean(data.author),
        modified_date=_date(data.modified_date) if data.modified_date is not None else None,
        modified_author=clean(data.author) if data.modified_date is not None else None,
        description=clean(data.description))
    labels = [clean(label) for label in data.labels]
    links = [data.reference_link] if data.reference_link else []
    if version == "2.1":
        topic = m2.Topic(**common, reference_link=links, labels=labels)
        return to_bytes(m2.Markup(header=_header(version, data.files), topic=topic, comment=comments,
                                  viewpoints=[viewpoint]))
    topic = m3.Topic(**common, reference_links=m3.TopicReferenceLinks(reference_link=links) if links else None,
                     labels=m3.TopicLabels(label=labels) if labels else None,
                     comments=m3.TopicComments(comment=comments) if comments else None,
                     viewpoints=m3.TopicViewpoints(view_point=[viewpoint]))
    return to_bytes(m3.Markup(header=_header(version, data.files), topic=topic))


def _unit(vector: Sequence[float]) -> tuple[float, float, float]:
    length = math.sqrt(sum(c * c for c in vector))
    return (vector[0] / length, vector[1] / length, vector[2] / length)


def camera(point: Sequence[float], bounds: Sequence[float]) -> dict[str, tuple[float, float, float]]:
    """A perspective camera aimed at ``point`` from the south-east and above, far enough back that a
    sphere around ``point`` holding every corner of ``bounds`` fits the vertical field of view."""
    xs, ys, zs = (bounds[0], bounds[3]), (bounds[1], bounds[4]), (bounds[2], bounds[5])
    corners = [(x, y, z) for x in xs for y in ys for z in zs]
    radius = max(math.dist(point, corner) for corner in corners)
    distance = max(radius / math.sin(math.radians(FIELD_OF_VIEW / 2)), MIN_CAMERA_DISTANCE)
    offset = _unit(CAMERA_OFFSET)
    direction = (-offset[0], -offset[1], -offset[2])
    # up = world Z with its component along the view direction removed: a level horizon in every viewer
    dz = direction[2]
    up = _unit((-dz * direction[0], -dz * direction[1], 1.0 - dz * direction[2]))
    eye = (point[0] + distance * offset[0], point[1] + distance * offset[1], point[2] + distance * offset[2])
    return {"CameraViewPoint": eye, "CameraDirection": direction, "CameraUpVector": up}


def visinfo_xml(
    version: str,
    *,
    guid: str,
    selected: Sequence[tuple[str, str | None, str | None]],
    point: Sequence[float],
    bounds: Sequence[float],
) -> bytes:
    """viewpoint.bcfv: Components(Selection, Visibility) then PerspectiveCamera.

    ``selected`` holds (IfcGuid, OriginatingSystem, AuthoringToolId) per component.
    """
    _check_version(version)
    mdl = m2 if version == "2.1" else m3
    cam = camera(point, bounds)

    def xyz(kind, values: Sequence[float], digits: int):
        return kind(**{axis: rounded(v, digits) for axis, v in zip("xyz", values, strict=True)})

    components = [mdl.Component(ifc_guid=gid, originating_system=clean(system) if system else None,
                                authoring_tool_id=clean(tool) if tool else None) for gid, system, tool in selected]
    perspective = dict(camera_view_point=xyz(mdl.Point, cam["CameraViewPoint"], 4),
                       camera_direction=xyz(mdl.Direction, cam["CameraDirection"], 6),
                       camera_up_vector=xyz(mdl.Direction, cam["CameraUpVector"], 6), field_of_view=FIELD_OF_VIEW)
    if version == "3.0":
        perspective["aspect_ratio"] = rounded(ASPECT_RATIO, 6)
    info = mdl.VisualizationInfo(
        guid=guid,
        components=mdl.Components(selection=mdl.ComponentSelection(component=components) if components else None,
                                  visibility=mdl.ComponentVisibility(default_visibility=True)),
        perspective_camera=mdl.PerspectiveCamera(**perspective))
    return to_bytes(info)

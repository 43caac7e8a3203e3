"""The XML documents of a BCF 2.1 zip, built with xml.etree in the exact order of the BCF-XML 2.1 schemas.

Child order follows the ``xs:sequence`` of buildingSMART BCF-XML ``release_2_1`` (markup.xsd,
visinfo.xsd, project.xsd, version.xsd): viewers that validate reject files whose elements are
out of sequence even when every element is present.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

XS = "http://www.w3.org/2001/XMLSchema"
FIELD_OF_VIEW = 60.0  # degrees; BCF 2.1 advises 45..60 and most viewers read it as the vertical angle
MIN_CAMERA_DISTANCE = 1.0  # m: keeps the camera outside a millimetre-sized clash
CAMERA_OFFSET = (1.0, -1.0, 0.8)  # from the target towards the camera: south-east and above, like an axonometric
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # characters XML 1.0 cannot hold


def to_bytes(root: ET.Element) -> bytes:
    """Serialize with a fixed UTF-8 declaration and two-space indent, so equal trees give equal bytes."""
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode("utf-8")


def iso(value: datetime) -> str:
    """ISO 8601 with offset, in UTC; a naive datetime is taken as UTC (never the machine's local time)."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.isoformat(timespec="seconds")


def num(value: float, digits: int = 6) -> str:
    """A finite number with at most ``digits`` decimals and no trailing zeros (byte-stable across runs)."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    text = f"{round(float(value), digits) + 0.0:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def clean(text: str) -> str:
    """Drop control characters that XML 1.0 forbids (IFC names sometimes carry them); etree would write them."""
    return _NOT_XML.sub("", text)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    node = ET.SubElement(parent, tag, {key: clean(value) for key, value in attrib.items()})
    if text is not None:
        node.text = clean(text)
    return node


def version_xml() -> bytes:
    """bcf.version: VersionId 2.1 and the DetailedVersion text."""
    root = ET.Element("Version", {"VersionId": "2.1"})
    _sub(root, "DetailedVersion", "2.1")
    return to_bytes(root)


def project_xml(project_id: str, name: str, extension_schema: str) -> bytes:
    """project.bcfp: ProjectExtension(Project(Name), ExtensionSchema)."""
    root = ET.Element("ProjectExtension")
    project = _sub(root, "Project", ProjectId=project_id)
    _sub(project, "Name", name)
    _sub(root, "ExtensionSchema", extension_schema)
    return to_bytes(root)


def extensions_xsd(values: dict[str, Iterable[str]]) -> bytes:
    """extensions.xsd: redefine markup.xsd's free-text types as the enumerations this file uses.

    ``values`` maps a markup.xsd simple type (TopicType, TopicStatus, Priority, TopicLabel, UserIdType)
    to its allowed values; an empty list leaves the type free text.
    """
    # literal "xs:" names: etree's namespace handling cannot mix a default namespace with plain attributes
    root = ET.Element("xs:schema", {"xmlns:xs": XS})
    redefine = _sub(root, "xs:redefine", schemaLocation="markup.xsd")
    for type_name, allowed in values.items():
        simple = _sub(redefine, "xs:simpleType", name=type_name)
        restriction = _sub(simple, "xs:restriction", base=type_name)
        for value in allowed:
            _sub(restriction, "xs:enumeration", value=value)
    return to_bytes(root)


def markup_xml(
    *,
    guid: str,
    topic_type: str,
    topic_status: str,
    reference_link: str | None,
    title: str,
    priority: str | None,
    labels: Sequence[str],
    creation_date: datetime,
    author: str,
    modified_date: datetime | None,
    description: str,
    comments: Sequence[tuple[str, datetime, str, str]],
    viewpoint_guid: str,
    viewpoint_file: str,
    snapshot_file: str | None,
) -> bytes:
    """markup.bcf: Topic, Comment*, Viewpoints in markup.xsd order; comments are (guid, date, author, text)."""
    root = ET.Element("Markup")
    topic = _sub(root, "Topic", Guid=guid, TopicType=topic_type, TopicStatus=topic_status)
    if reference_link:
        _sub(topic, "ReferenceLink", reference_link)
    _sub(topic, "Title", title)
    if priority:
        _sub(topic, "Priority", priority)
    for label in labels:
        _sub(topic, "Labels", label)
    _sub(topic, "CreationDate", iso(creation_date))
    _sub(topic, "CreationAuthor", author)
    if modified_date is not None:
        _sub(topic, "ModifiedDate", iso(modified_date))
        _sub(topic, "ModifiedAuthor", author)
    _sub(topic, "Description", description)
    for comment_guid, date, comment_author, text in comments:
        comment = _sub(root, "Comment", Guid=comment_guid)
        _sub(comment, "Date", iso(date))
        _sub(comment, "Author", comment_author)
        _sub(comment, "Comment", text)
    viewpoint = _sub(root, "Viewpoints", Guid=viewpoint_guid)
    _sub(viewpoint, "Viewpoint", viewpoint_file)
    if snapshot_file:
        _sub(viewpoint, "Snapshot", snapshot_file)
    return to_bytes(root)


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


def _xyz(parent: ET.Element, tag: str, values: Sequence[float], digits: int) -> None:
    node = _sub(parent, tag)
    for axis, value in zip("XYZ", values, strict=True):
        _sub(node, axis, num(value, digits))


def visinfo_xml(
    *,
    guid: str,
    selected: Sequence[tuple[str, str | None, str | None]],
    point: Sequence[float],
    bounds: Sequence[float],
) -> bytes:
    """viewpoint.bcfv: Components(Selection, Visibility) then PerspectiveCamera, in visinfo.xsd order.

    ``selected`` holds (IfcGuid, OriginatingSystem, AuthoringToolId) per component.
    """
    root = ET.Element("VisualizationInfo", {"Guid": guid})
    components = _sub(root, "Components")
    if selected:
        selection = _sub(components, "Selection")
        for ifc_guid, system, tool_id in selected:
            component = _sub(selection, "Component", IfcGuid=ifc_guid)
            if system:
                _sub(component, "OriginatingSystem", system)
            if tool_id:
                _sub(component, "AuthoringToolId", tool_id)
    _sub(components, "Visibility", DefaultVisibility="true")
    cam = camera(point, bounds)
    perspective = _sub(root, "PerspectiveCamera")
    _xyz(perspective, "CameraViewPoint", cam["CameraViewPoint"], 4)
    _xyz(perspective, "CameraDirection", cam["CameraDirection"], 6)
    _xyz(perspective, "CameraUpVector", cam["CameraUpVector"], 6)
    _sub(perspective, "FieldOfView", num(FIELD_OF_VIEW))
    return to_bytes(root)

"""BCF 2.1 and 3.0 export of clashes: read back by IfcOpenShell's BCF reader (what Bonsai uses), valid
against buildingSMART's BCF 2.1 XSDs, strict against bcf-client's XSD-generated 3.0 classes, in schema
order, byte-stable across reruns; and the clash snapshot PNG."""

from __future__ import annotations

import importlib.util
import io
import math
import uuid
import xml.etree.ElementTree as ET
import zipfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import bcf.bcfxml
import bcf.v2.model as bcf_model
import bcf.v3.model as bcf_v3
import ifcopenshell.guid
import numpy as np
import pytest
import trimesh
import xmlschema
from PIL import Image
from xsdata.formats.dataclass.context import XmlContext
from xsdata.formats.dataclass.parsers import XmlParser
from xsdata.formats.dataclass.parsers.config import ParserConfig

from cim.clash.bcf import STATUS_TO_BCF, BcfComponent, BcfTopic, HeaderFile, write_bcfzip
from cim.clash.snapshot import render_pair
from cim.errors import GeometryError, InputError

NS = uuid.UUID("6f1b7c2e-3d4a-5b6c-8d9e-0a1b2c3d4e5f")
WALL = ifcopenshell.guid.compress(uuid.uuid5(NS, "wall").hex)
DUCT = ifcopenshell.guid.compress(uuid.uuid5(NS, "duct").hex)
SLAB = ifcopenshell.guid.compress(uuid.uuid5(NS, "slab").hex)
MEP_PROJECT = ifcopenshell.guid.compress(uuid.uuid5(NS, "mep project").hex)
MEP_BUILDING = ifcopenshell.guid.compress(uuid.uuid5(NS, "mep building").hex)
ARC_PROJECT = ifcopenshell.guid.compress(uuid.uuid5(NS, "architecture project").hex)
POINT = (500123.4, 4300456.7, 12.3)  # city CRS, EPSG:4549 metres
BOUNDS = (500121.4, 4300455.7, 10.3, 500125.9, 4300457.2, 15.3)


def _wall_and_duct() -> tuple[trimesh.Trimesh, trimesh.Trimesh]:
    wall = trimesh.creation.box((3.0, 0.3, 3.0))
    duct = trimesh.creation.cylinder(radius=0.2, height=4.0, sections=24)
    duct.apply_transform(trimesh.transformations.rotation_matrix(math.pi / 2, (0, 1, 0)))
    duct.apply_translation((0.0, 0.0, 0.5))
    return wall, duct


def _topics() -> list[BcfTopic]:
    wall, duct = _wall_and_duct()
    first = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone(timedelta(hours=8)))
    return [
        BcfTopic(
            guid=str(uuid.uuid5(NS, "clash/wall-duct")), title="Wall vs duct (hard, 0.40 m)",
            description="IfcWall Wall-01 and IfcDuctSegment D-7 overlap by 0.40 m.", status="active",
            priority="major", topic_type="Clash", labels=["hard", "MEP"], creation_date=first,
            modified_date=first + timedelta(days=2), author="cim@city.example",
            selected=[BcfComponent(WALL, "Revit", "123456"), BcfComponent(DUCT)],
            camera_point=POINT, focus_bounds=BOUNDS,
            snapshot_png=render_pair(wall.vertices, wall.faces, duct.vertices, duct.faces, (0.0, 0.0, 0.5)),
            reference_link="https://cim.example/clash/1",
            comments=[(first, "cim@city.example", "new"), (first + timedelta(days=2), "cim@city.example", "active")],
            files=[HeaderFile("architecture.ifc", first, "models/architecture.ifc", ARC_PROJECT),
                   HeaderFile("mep.ifc", first, "models/mep.ifc", MEP_PROJECT, MEP_BUILDING)],
        ),
        BcfTopic(
            guid=str(uuid.uuid5(NS, "clash/slab-pipeline")), title="Slab vs gas pipeline (clearance 0.8 m)",
            description="Basement slab within 0.8 m of pipeline 17.", status="approved", priority=None,
            topic_type="Clearance", labels=[], creation_date=datetime(2024, 5, 1, 12, 0, 0),
            modified_date=None, author="cim@city.example",
            selected=[BcfComponent(SLAB), BcfComponent("layer:pipelines/17")],
            camera_point=POINT, focus_bounds=BOUNDS,
            snapshot_png=render_pair(wall.vertices, wall.faces, None, None, (0.0, 0.0, 0.5)),
        ),
    ]


@pytest.fixture
def bcfzip(tmp_path: Path) -> Path:
    return write_bcfzip(tmp_path / "out" / "clashes.bcfzip", _topics(), "Binhai sample city", "cim-binhai")


def _strict_parser() -> XmlParser:
    config = ParserConfig(fail_on_unknown_properties=True, fail_on_unknown_attributes=True,
                          fail_on_converter_warnings=True)
    return XmlParser(config=config, context=XmlContext())


def test_bonsai_reader_reads_back_topics_viewpoints_selection_and_snapshot(bcfzip: Path) -> None:
    topics = _topics()
    archive = bcf.bcfxml.load(bcfzip)
    assert archive.version.version_id == "2.1"
    assert archive.project.project_id == "cim-binhai" and archive.project.name == "Binhai sample city"
    assert set(archive.topics) == {t.guid for t in topics}

    wall_duct = archive.topics[topics[0].guid]
    assert wall_duct.topic.topic_status == "Active" and wall_duct.topic.priority == "Major"
    assert wall_duct.topic.topic_type == "Clash" and wall_duct.topic.labels == ["hard", "MEP"]
    assert wall_duct.topic.reference_link == ["https://cim.example/clash/1"]
    assert wall_duct.topic.creation_date.to_datetime() == topics[0].creation_date
    assert [c.comment for c in wall_duct.comments] == ["new", "active"]
    (viewpoint,) = wall_duct.viewpoints.values()
    selection = viewpoint.visualization_info.components.selection.component
    assert [(c.ifc_guid, c.originating_system, c.authoring_tool_id) for c in selection] == [
        (WALL, "Revit", "123456"), (DUCT, None, None)]
    assert viewpoint.visualization_info.components.visibility.default_visibility is True
    assert viewpoint.snapshot == topics[0].snapshot_png
    assert viewpoint.guid == wall_duct.markup.viewpoints[0].guid

    slab = archive.topics[topics[1].guid]
    assert slab.topic.topic_status == "Closed" and slab.topic.priority is None
    (viewpoint,) = slab.viewpoints.values()
    assert [c.ifc_guid for c in viewpoint.visualization_info.components.selection.component] == [SLAB]
    assert "layer:pipelines/17" in slab.topic.description


def test_extensions_xsd_lists_every_status_priority_type_and_label_used(bcfzip: Path) -> None:
    ext = bcf.bcfxml.load(bcfzip).extensions
    assert ext.topic_statuses.topic_status == ["Open", "Active", "Resolved", "Closed"]
    assert ext.priorities.priority == ["Critical", "Major", "Minor", "Info"]
    assert ext.topic_types.topic_type == ["Clash", "Clearance"]
    assert ext.topic_labels.topic_label == ["MEP", "hard"]
    assert ext.users.user == ["cim@city.example"]


def test_every_xml_file_parses_strictly_against_the_bcf21_model_classes(bcfzip: Path) -> None:
    classes = {"bcf.version": bcf_model.Version, "project.bcfp": bcf_model.ProjectExtension,
               "markup.bcf": bcf_model.Markup, "viewpoint.bcfv": bcf_model.VisualizationInfo}
    parser = _strict_parser()
    with zipfile.ZipFile(bcfzip) as archive:
        names = [n for n in archive.namelist() if n.rsplit("/", 1)[-1] in classes]
        assert len(names) == 2 + 2 * 2
        for name in names:
            data = archive.read(name)
            assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
            parsed = parser.from_bytes(data, classes[name.rsplit("/", 1)[-1]])
            assert parsed is not None, name


def _assert_schema_order(node: ET.Element, clazz: type, context: XmlContext, where: str) -> None:
    """Children must appear in the order of the model's fields, which xsdata generated from the xs:sequence."""
    elements = {var.local_name: var for var in context.build(clazz).get_element_vars()}
    last = 0
    for child in node:
        assert child.tag in elements, f"{where}: unexpected <{child.tag}>"
        var = elements[child.tag]
        assert var.index >= last, f"{where}: <{child.tag}> comes after a later element of the sequence"
        last = var.index
        if var.clazz is not None:
            _assert_schema_order(child, var.clazz, context, f"{where}/{child.tag}")


def test_child_elements_follow_the_bcf21_schema_sequence(bcfzip: Path) -> None:
    context = XmlContext()
    with zipfile.ZipFile(bcfzip) as archive:
        for name in archive.namelist():
            kind = {"markup.bcf": bcf_model.Markup, "viewpoint.bcfv": bcf_model.VisualizationInfo,
                    "project.bcfp": bcf_model.ProjectExtension}.get(name.rsplit("/", 1)[-1])
            if kind is not None:
                _assert_schema_order(ET.fromstring(archive.read(name)), kind, context, name)
        markup = ET.fromstring(archive.read(f"{_topics()[0].guid}/markup.bcf"))
    # the order written out in BCF-XML release_2_1 markup.xsd, checked literally as well
    assert [c.tag for c in markup.find("Topic")] == [
        "ReferenceLink", "Title", "Priority", "Labels", "Labels", "CreationDate", "CreationAuthor",
        "ModifiedDate", "ModifiedAuthor", "Description"]
    assert [c.tag for c in markup] == ["Header", "Topic", "Comment", "Comment", "Viewpoints"]


def test_rewriting_the_same_topics_gives_a_byte_identical_zip(bcfzip: Path, tmp_path: Path) -> None:
    again = write_bcfzip(tmp_path / "again.bcfzip", _topics(), "Binhai sample city", "cim-binhai")
    assert again.read_bytes() == bcfzip.read_bytes()
    shuffled = write_bcfzip(tmp_path / "shuffled.bcfzip", _topics()[::-1], "Binhai sample city", "cim-binhai")
    assert shuffled.read_bytes() == bcfzip.read_bytes()
    with zipfile.ZipFile(bcfzip) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert archive.namelist()[:3] == ["bcf.version", "project.bcfp", "extensions.xsd"]
    assert [p.name for p in bcfzip.parent.iterdir()] == ["clashes.bcfzip"]  # no temp file left behind


def test_the_camera_looks_at_the_clash_point_from_far_enough_to_frame_both_elements(bcfzip: Path) -> None:
    with zipfile.ZipFile(bcfzip) as archive:
        info = _strict_parser().from_bytes(archive.read(f"{_topics()[0].guid}/viewpoint.bcfv"),
                                           bcf_model.VisualizationInfo)
    cam = info.perspective_camera
    eye = np.array([cam.camera_view_point.x, cam.camera_view_point.y, cam.camera_view_point.z])
    direction = np.array([cam.camera_direction.x, cam.camera_direction.y, cam.camera_direction.z])
    up = np.array([cam.camera_up_vector.x, cam.camera_up_vector.y, cam.camera_up_vector.z])
    to_point = np.array(POINT) - eye
    distance = np.linalg.norm(to_point)
    assert cam.field_of_view == 60.0
    assert np.linalg.norm(direction) == pytest.approx(1.0, abs=1e-5)
    assert to_point / distance == pytest.approx(direction, abs=1e-5)
    assert abs(up @ direction) < 1e-5 and up[2] > 0.5  # level horizon, looking down at an angle
    corners = np.array([[x, y, z] for x in BOUNDS[0::3] for y in BOUNDS[1::3] for z in BOUNDS[2::3]])
    radius = np.max(np.linalg.norm(corners - np.array(POINT), axis=1))
    assert distance == pytest.approx(radius / math.sin(math.radians(30)), abs=1e-3)


def test_each_cim_status_maps_to_its_documented_bcf_status(tmp_path: Path) -> None:
    expected = {"new": "Open", "active": "Active", "resolved": "Resolved", "approved": "Closed"}
    assert expected == STATUS_TO_BCF
    template = _topics()[1]
    topics = [BcfTopic(**{**template.__dict__, "guid": str(uuid.uuid5(NS, s)), "status": s}) for s in expected]
    archive = bcf.bcfxml.load(write_bcfzip(tmp_path / "s.bcfzip", topics, "p", "p"))
    assert {archive.topics[t.guid].topic.topic_status for t in topics} == set(expected.values())
    for topic in topics:
        assert archive.topics[topic.guid].topic.topic_status == expected[topic.status]


def test_naive_dates_are_written_as_utc_and_aware_dates_keep_their_instant(bcfzip: Path) -> None:
    topics = _topics()
    with zipfile.ZipFile(bcfzip) as archive:
        naive = ET.fromstring(archive.read(f"{topics[1].guid}/markup.bcf"))
        aware = ET.fromstring(archive.read(f"{topics[0].guid}/markup.bcf"))
    assert naive.findtext("Topic/CreationDate") == "2024-05-01T12:00:00Z"
    written = datetime.fromisoformat(aware.findtext("Topic/CreationDate"))
    assert written == topics[0].creation_date and written.tzinfo is not None
    assert written.astimezone(UTC).hour == 23  # 07:08 at +08:00


def test_a_bad_topic_is_refused_and_the_previous_file_is_left_untouched(bcfzip: Path) -> None:
    before = bcfzip.read_bytes()
    bad = _topics()
    bad[0].status = "ignored"
    with pytest.raises(InputError, match="unknown clash status 'ignored'") as err:
        write_bcfzip(bcfzip, bad, "p", "p")
    assert err.value.path == str(bcfzip)
    bad = _topics()
    bad[1].guid = "clash-1"
    with pytest.raises(InputError, match="not a UUID"):
        write_bcfzip(bcfzip, bad, "p", "p")
    dup = _topics()
    dup[1].guid = dup[0].guid
    with pytest.raises(InputError, match="used twice"):
        write_bcfzip(bcfzip, dup, "p", "p")
    assert bcfzip.read_bytes() == before
    assert [p.name for p in bcfzip.parent.iterdir()] == ["clashes.bcfzip"]


def _colour_counts(png: bytes) -> tuple[tuple[int, int], int, int]:
    image = Image.open(io.BytesIO(png))
    rgb = np.asarray(image.convert("RGB")).astype(int)
    red = int(np.sum((rgb[..., 0] > rgb[..., 2] + 60) & (rgb[..., 0] > rgb[..., 1] + 40)))
    blue = int(np.sum((rgb[..., 2] > rgb[..., 0] + 60) & (rgb[..., 2] > rgb[..., 1] + 30)))
    return image.size, red, blue


def test_snapshot_is_a_png_of_the_requested_size_showing_a_in_red_and_b_in_blue() -> None:
    wall, duct = _wall_and_duct()
    png = render_pair(wall.vertices, wall.faces, duct.vertices, duct.faces, (0.0, 0.0, 0.5), size=(400, 300))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    size, red, blue = _colour_counts(png)
    assert size == (400, 300)
    assert red > 2000 and blue > 2000
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    assert rgb[140:160, 190:210].min() < 60  # the black point marker sits in the middle


def test_snapshot_of_one_element_against_a_zone_shows_only_red() -> None:
    wall, _ = _wall_and_duct()
    size, red, blue = _colour_counts(render_pair(wall.vertices, wall.faces, None, None, (0.0, 0.0, 0.0)))
    assert size == (640, 480) and red > 5000 and blue == 0


def test_snapshot_is_deterministic_for_thousands_of_triangles() -> None:
    a = trimesh.creation.icosphere(subdivisions=4, radius=1.0)  # 5120 triangles, capped near the point
    b = trimesh.creation.icosphere(subdivisions=3, radius=0.6)  # 1280 triangles
    b.apply_translation((1.2, 0.0, 0.0))
    images = [render_pair(a.vertices, a.faces, b.vertices, b.faces, (0.9, 0.0, 0.0)) for _ in range(3)]
    assert images[0] == images[1] == images[2]


def test_snapshot_refuses_faces_that_point_past_the_vertices() -> None:
    with pytest.raises(GeometryError, match="face indices outside"):
        render_pair(np.zeros((3, 3)), np.array([[0, 1, 5]]), None, None, (0.0, 0.0, 0.0))


def test_markup_characters_and_control_characters_in_names_survive_as_valid_xml(tmp_path: Path) -> None:
    topic = _topics()[1]
    topic.title = "Pipe <DN300> & slab\x07 \u6c34\u7ba1"
    archive = bcf.bcfxml.load(write_bcfzip(tmp_path / "c.bcfzip", [topic], "p", "p"))
    assert archive.topics[topic.guid].topic.title == "Pipe <DN300> & slab \u6c34\u7ba1"


# --- validation against buildingSMART's schemas -------------------------------------------------------------

SCHEMAS = Path(importlib.util.find_spec("bcf_api_xml").submodule_search_locations[0]) / "Schemas"  # BCF 2.1
XSD_OF = {"bcf.version": "version.xsd", "project.bcfp": "project.xsd", "markup.bcf": "markup.xsd",
          "viewpoint.bcfv": "visinfo.xsd"}


@pytest.fixture(scope="module")
def bcf21_schemas() -> dict[str, xmlschema.XMLSchema]:
    return {name: xmlschema.XMLSchema(str(SCHEMAS / xsd)) for name, xsd in XSD_OF.items()}


def _xsd_errors(entries: dict[str, bytes], schemas: dict[str, xmlschema.XMLSchema], tmp: Path) -> dict[str, list]:
    """Every XML file of a 2.1 zip against its XSD; markups also against the zip's extensions.xsd, which
    redefines markup.xsd (so a status, type, label or user missing from it is an error)."""
    (tmp / "markup.xsd").write_bytes((SCHEMAS / "markup.xsd").read_bytes())
    (tmp / "extensions.xsd").write_bytes(entries["extensions.xsd"])
    extended = xmlschema.XMLSchema(str(tmp / "extensions.xsd"))
    errors: dict[str, list] = {}
    for name, data in entries.items():
        base = name.rsplit("/", 1)[-1]
        if base in XSD_OF:
            errors[name] = [str(e.reason) for e in schemas[base].iter_errors(ET.fromstring(data))]
        if base == "markup.bcf":
            errors[name] += [str(e.reason) for e in extended.iter_errors(ET.fromstring(data))]
    return errors


def _entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {n: archive.read(n) for n in archive.namelist() if not n.endswith(("/", ".png"))}


def test_every_xml_file_of_a_bcf21_zip_validates_against_buildingsmarts_xsds(bcfzip, bcf21_schemas, tmp_path):
    """buildingSMART's BCF-XML 2.1 XSDs as shipped in the bcf-api-xml package (bcf_api_xml/Schemas)."""
    entries = _entries(bcfzip)
    errors = _xsd_errors(entries, bcf21_schemas, tmp_path)
    assert sorted(n.rsplit("/", 1)[-1] for n in errors) == sorted(
        ["bcf.version", "project.bcfp"] + ["markup.bcf", "viewpoint.bcfv"] * 2)
    assert errors == {name: [] for name in errors}
    markup = ET.fromstring(entries[f"{_topics()[0].guid}/markup.bcf"])
    assert [(f.findtext("Filename"), f.get("IfcProject"), f.get("IfcSpatialStructureElement"), f.get("isExternal"))
            for f in markup.findall("Header/File")] == [("architecture.ifc", ARC_PROJECT, None, "true"),
                                                        ("mep.ifc", MEP_PROJECT, MEP_BUILDING, "true")]


def _broken(entries: dict[str, bytes], name: str, edit) -> dict[str, bytes]:
    root = ET.fromstring(entries[name])
    edit(root)
    return {**entries, name: ET.tostring(root)}


def _title_last(markup: ET.Element) -> None:
    topic = markup.find("Topic")
    title = topic.find("Title")
    topic.remove(title)
    topic.append(title)  # after Description


def _drop_field_of_view(viewpoint: ET.Element) -> None:
    viewpoint.find("PerspectiveCamera").remove(viewpoint.find("PerspectiveCamera/FieldOfView"))


@pytest.mark.parametrize(("file", "edit"), [
    ("markup.bcf", _title_last),
    ("markup.bcf", lambda m: m.find("Header/File").set("IfcProject", "not-22-characters")),
    ("markup.bcf", lambda m: m.find("Topic").set("TopicStatus", "Postponed")),  # not in extensions.xsd
    ("viewpoint.bcfv", _drop_field_of_view),
    ("project.bcfp", lambda p: p.remove(p.find("ExtensionSchema"))),
], ids=["title-out-of-order", "bad-ifc-project", "undeclared-status", "camera-without-fov", "no-extension-schema"])
def test_the_xsd_check_refuses_each_kind_of_malformed_bcf21_file(bcfzip, bcf21_schemas, tmp_path, file, edit):
    """The validation above is not vacuous: each malformed file fails it."""
    entries = _entries(bcfzip)
    name = file if file == "project.bcfp" else f"{_topics()[0].guid}/{file}"
    assert _xsd_errors(entries, bcf21_schemas, tmp_path)[name] == []
    assert _xsd_errors(_broken(entries, name, edit), bcf21_schemas, tmp_path)[name]


V3_CLASS = {"bcf.version": bcf_v3.Version, "project.bcfp": bcf_v3.ProjectInfo, "extensions.xml": bcf_v3.Extensions,
            "markup.bcf": bcf_v3.Markup, "viewpoint.bcfv": bcf_v3.VisualizationInfo}


def _v3_problems(entries: dict[str, bytes]) -> dict[str, str | None]:
    """Each XML file of a 3.0 zip parsed strictly by bcf-client's v3 classes, then checked for schema order."""
    parser, context = _strict_parser(), XmlContext()
    problems: dict[str, str | None] = {}
    for name, data in entries.items():
        clazz = V3_CLASS.get(name.rsplit("/", 1)[-1])
        if clazz is None:
            continue
        try:
            parser.from_bytes(data, clazz)
            _assert_schema_order(ET.fromstring(data), clazz, context, name)
            problems[name] = None
        except Exception as exc:  # any parser error or order assertion is a finding
            problems[name] = f"{type(exc).__name__}: {exc}"
    return problems


@pytest.fixture
def bcf3zip(tmp_path: Path) -> Path:
    return write_bcfzip(tmp_path / "out3" / "clashes.bcfzip", _topics(), "Binhai sample city", "cim-binhai", "3.0")


def test_every_xml_file_of_a_bcf30_zip_parses_strictly_with_bcf_clients_xsd_generated_classes(bcf3zip):
    """No package on the registry ships buildingSMART's BCF 3.0 XSDs, so 3.0 is checked with the classes
    bcf-client generated from them (xsdata): unknown elements or attributes, a missing required element (such
    as 3.0's AspectRatio) or a converter warning fail the parse, and children must follow the xs:sequence."""
    problems = _v3_problems(_entries(bcf3zip))
    assert sorted(n.rsplit("/", 1)[-1] for n in problems) == sorted(
        ["bcf.version", "project.bcfp", "extensions.xml"] + ["markup.bcf", "viewpoint.bcfv"] * 2)
    assert problems == {name: None for name in problems}


def test_the_bcf30_check_refuses_a_bcf21_markup_and_a_camera_without_aspect_ratio(bcfzip, bcf3zip):
    """The strict 3.0 parse is not vacuous: 2.1's top-level Comment and a 3.0 camera missing AspectRatio fail."""
    guid = _topics()[0].guid
    old = _entries(bcfzip)
    assert _v3_problems({f"{guid}/markup.bcf": old[f"{guid}/markup.bcf"]})[f"{guid}/markup.bcf"]
    viewpoint = ET.fromstring(_entries(bcf3zip)[f"{guid}/viewpoint.bcfv"])
    viewpoint.find("PerspectiveCamera").remove(viewpoint.find("PerspectiveCamera/AspectRatio"))
    assert _v3_problems({"x/viewpoint.bcfv": ET.tostring(viewpoint)})["x/viewpoint.bcfv"]


def test_bcf30_reads_back_with_headers_selection_camera_and_snapshot(bcf3zip):
    topics = _topics()
    archive = bcf.bcfxml.load(bcf3zip)
    assert archive.version.version_id == "3.0"
    assert archive.project.name == "Binhai sample city" and set(archive.topics) == {t.guid for t in topics}
    wall_duct = archive.topics[topics[0].guid]
    assert wall_duct.topic.topic_status == "Active" and wall_duct.topic.labels.label == ["hard", "MEP"]
    assert [c.comment for c in wall_duct.topic.comments.comment] == ["new", "active"]
    files = wall_duct.header.files.file
    assert [(f.filename, f.ifc_project, f.ifc_spatial_structure_element, f.is_external) for f in files] == [
        ("architecture.ifc", ARC_PROJECT, None, True), ("mep.ifc", MEP_PROJECT, MEP_BUILDING, True)]
    (viewpoint,) = wall_duct.viewpoints.values()
    assert [c.ifc_guid for c in viewpoint.visualization_info.components.selection.component] == [WALL, DUCT]
    assert viewpoint.snapshot == topics[0].snapshot_png
    assert viewpoint.visualization_info.perspective_camera.aspect_ratio == pytest.approx(4 / 3, abs=1e-6)
    assert archive.topics[topics[1].guid].header is None  # no files known: no header
    assert archive.extensions.topic_statuses.topic_status == ["Open", "Active", "Resolved", "Closed"]


def test_both_versions_keep_the_same_topic_and_viewpoint_guids_and_rewrite_byte_identically(bcfzip, bcf3zip,
                                                                                             tmp_path):
    again = write_bcfzip(tmp_path / "again3.bcfzip", _topics()[::-1], "Binhai sample city", "cim-binhai", "3.0")
    assert again.read_bytes() == bcf3zip.read_bytes()
    v2, v3 = bcf.bcfxml.load(bcfzip), bcf.bcfxml.load(bcf3zip)
    assert set(v2.topics) == set(v3.topics)
    for guid in v2.topics:
        assert set(v2.topics[guid].viewpoints) == set(v3.topics[guid].viewpoints)


def test_an_unknown_bcf_version_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(InputError, match="BCF version '2.0' is not one of 2.1, 3.0"):
        write_bcfzip(tmp_path / "x.bcfzip", _topics(), "p", "p", "2.0")
    assert not (tmp_path / "x.bcfzip").exists()

"""The demo city generator: reproducible files, the IFC content promised, GIS layers, and planted violations."""

from __future__ import annotations

import hashlib
import math
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import ifcopenshell
import ifcopenshell.geom
import ifcopenshell.util.element
import numpy as np
import pyogrio
import pytest
from pyproj import Transformer
from shapely.geometry import MultiPoint, Polygon, box

from cim.samples import layout
from cim.samples.generate import city_specs
from cim.samples.grid_building import BuildingSpec
from cim.samples.submissions import COMPLIANT, SUBMISSIONS, VIOLATING

COMMITTED = Path(__file__).resolve().parents[1] / "sample_models"
ALL_SPECS = (*city_specs(), *SUBMISSIONS.values())
LAYER_COLUMNS = {
    "parcels": {"parcel_id", "land_use", "max_height_m", "max_far", "max_coverage", "min_setback_m", "area_m2"},
    "roads": {"road_id", "name", "red_line_width_m", "lanes", "class"},
    "road_redlines": {"road_id", "name"},
    "buildings_existing": {"name", "use", "height_m", "storeys"},
    "pipelines": {"pipeline_id", "type", "diameter_mm", "depth_m", "material", "owner", "installed_year"},
}


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo city as `cim samples OUT_DIR` writes it (the command users and `make samples` run)."""
    out = tmp_path_factory.mktemp("city") / "samples"
    done = subprocess.run([str(Path(sys.prefix) / "bin" / "cim"), "samples", str(out)], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


@pytest.fixture(scope="module")
def models(city: Path) -> dict[str, ifcopenshell.file]:
    return {spec.model_id: ifcopenshell.open(str(city / spec.file_name)) for spec in ALL_SPECS}


def _digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _map_conversion(f: ifcopenshell.file) -> tuple[float, float, float, float]:
    """(eastings, northings, cos, sin) from IfcMapConversion or, in IFC2X3, ePSet_MapConversion."""
    if f.schema == "IFC2X3":
        pset = ifcopenshell.util.element.get_pset(f.by_type("IfcProject")[0], "ePSet_MapConversion")
        e, n, a, b = pset["Eastings"], pset["Northings"], pset["XAxisAbscissa"], pset["XAxisOrdinate"]
    else:
        conv = f.by_type("IfcMapConversion")[0]
        e, n, a, b = conv.Eastings, conv.Northings, conv.XAxisAbscissa, conv.XAxisOrdinate
    norm = math.hypot(a, b)
    return e, n, a / norm, b / norm


def _world_vertices(f: ifcopenshell.file, elements: list) -> dict[int, np.ndarray]:
    """Triangulated vertices (metres, project coordinates) per element id."""
    settings = ifcopenshell.geom.settings()
    settings.set("use-world-coords", True)
    it = ifcopenshell.geom.iterator(settings, f, 1, include=elements)
    out: dict[int, np.ndarray] = {}
    if it.initialize():
        while True:
            shape = it.get()
            out[shape.id] = np.array(shape.geometry.verts).reshape(-1, 3)
            if not it.next():
                break
    return out


def _to_map(f: ifcopenshell.file, xyz: np.ndarray) -> np.ndarray:
    e, n, c, s = _map_conversion(f)
    return np.column_stack([e + c * xyz[:, 0] - s * xyz[:, 1], n + s * xyz[:, 0] + c * xyz[:, 1]])


def _parcel(parcel_id: str) -> Polygon:
    return box(*layout.PARCELS[parcel_id][1])


def test_cim_samples_regenerates_every_committed_sample_file_readmes_included(city: Path) -> None:
    """Byte-identical regeneration: the committed files were written by an earlier run of the same code."""
    if not COMMITTED.is_dir():
        pytest.skip("sample_models/ has not been generated")
    fresh, committed = _digests(city), _digests(COMMITTED)
    assert len(fresh) >= 11
    assert sorted(committed) == sorted(fresh), "sample_models/ holds files `cim samples` does not write, or lacks some"
    assert {"README.md", "tunnel/README.md", "cim.toml"} <= set(fresh)
    changed = sorted(name for name in fresh if committed[name] != fresh[name])
    assert not changed, f"run `make samples` and commit sample_models/: {changed} differ"


def test_the_city_config_lists_every_ifc_model_with_a_phase(city: Path) -> None:
    config = tomllib.loads((city / "cim.toml").read_text())
    assert config["city"]["crs"] == "EPSG:4549"
    assert config["city"]["ground_elevation_m"] == layout.GROUND_Z
    assert config["city"]["exclude"] == ["submissions/*", "lifecycle/*"]
    listed = set(config["models"])
    on_disk = {p.relative_to(city).as_posix() for p in city.rglob("*.ifc")
               if not {"submissions", "lifecycle"} & set(p.parts)}
    assert listed == on_disk | ({"tunnel/utility_tunnel.ifc"} & listed)
    assert {m["phase"] for m in config["models"].values()} == {"plan", "build", "manage"}
    assert len({m["model_id"] for m in config["models"].values()}) == len(listed)


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s.model_id)
def test_each_model_has_the_promised_building_elements(spec: BuildingSpec, models: dict) -> None:
    f = models[spec.model_id]
    assert f.schema == spec.schema
    storeys = f.by_type("IfcBuildingStorey")
    assert len(storeys) == spec.storeys + (1 if spec.basement else 0)
    assert all(s.Name for s in storeys)
    walls = f.by_type("IfcWall")
    assert walls and all(w.Representation.Representations[0].Items[0].is_a("IfcExtrudedAreaSolid") for w in walls)
    slab_types = {s.PredefinedType for s in f.by_type("IfcSlab")}
    assert {"FLOOR", "ROOF"} <= slab_types
    assert f.by_type("IfcColumn") and f.by_type("IfcBeam")
    for cls in ("IfcDoor", "IfcWindow"):
        fills = f.by_type(cls)
        assert fills
        for fill in fills:
            opening = fill.FillsVoids[0].RelatingOpeningElement
            assert opening.VoidsElements[0].RelatingBuildingElement.is_a("IfcWall")
    spaces = f.by_type("IfcSpace")
    assert spaces and all(s.ObjectType and s.Decomposes[0].RelatingObject.is_a("IfcBuildingStorey") for s in spaces)
    segments = f.by_type("IfcFlowSegment")
    assert segments and all(s.HasAssignments for s in segments)
    if spec.schema != "IFC2X3":
        assert f.by_type("IfcPipeSegment") and f.by_type("IfcDuctSegment")
        assert {s.PredefinedType for s in f.by_type("IfcDistributionSystem")} == {"VENTILATION", "DOMESTICCOLDWATER"}
    assert all(ifcopenshell.util.element.get_material(w) for w in walls)
    qtos = {q.Name for q in f.by_type("IfcElementQuantity")}
    assert {"Qto_WallBaseQuantities", "Qto_SlabBaseQuantities", "Qto_SpaceBaseQuantities"} <= qtos


def test_base_quantities_agree_with_the_wall_geometry(models: dict) -> None:
    f = models["block-a"]
    wall = next(w for w in f.by_type("IfcWall") if ifcopenshell.util.element.get_pset(w, "Qto_WallBaseQuantities"))
    qto = ifcopenshell.util.element.get_pset(wall, "Qto_WallBaseQuantities")
    solid = wall.Representation.Representations[0].Items[0]
    assert qto["Length"] == pytest.approx(solid.SweptArea.XDim)
    assert qto["Height"] == pytest.approx(solid.Depth)
    assert qto["GrossSideArea"] == pytest.approx(solid.SweptArea.XDim * solid.Depth)
    window = wall.HasOpenings[0].RelatedOpeningElement.HasFillings[0].RelatedBuildingElement
    assert qto["NetSideArea"] == pytest.approx(qto["GrossSideArea"] - window.OverallWidth * window.OverallHeight)


def test_the_millimetre_model_declares_mm_and_scale_0_001(models: dict) -> None:
    f = models["community-centre"]
    length = next(u for u in f.by_type("IfcProject")[0].UnitsInContext.Units if u.UnitType == "LENGTHUNIT")
    assert length.Prefix == "MILLI"
    conv = f.by_type("IfcMapConversion")[0]
    assert conv.Scale == pytest.approx(0.001)
    assert f.by_type("IfcBuildingStorey")[1].Elevation == pytest.approx(4200.0)


def test_the_rotated_model_has_a_turned_x_axis(models: dict) -> None:
    conv = models["haixia-office"].by_type("IfcMapConversion")[0]
    assert (conv.XAxisAbscissa, conv.XAxisOrdinate) != (1.0, 0.0)
    assert math.degrees(math.atan2(conv.XAxisOrdinate, conv.XAxisAbscissa)) == pytest.approx(30.0)


def test_ifc4_models_name_the_projected_crs_and_datum(models: dict) -> None:
    for spec in ALL_SPECS:
        if spec.schema == "IFC2X3":
            continue
        crs = models[spec.model_id].by_type("IfcProjectedCRS")[0]
        assert (crs.Name, crs.VerticalDatum, crs.MapUnit.Name) == ("EPSG:4549", layout.HEIGHT_DATUM, "METRE")
        assert models[spec.model_id].by_type("IfcMapConversion")[0].OrthogonalHeight == layout.GROUND_Z


def test_the_ifc2x3_model_is_georeferenced_by_epsets_with_fixed_owner_history(models: dict) -> None:
    f = models["block-b-2x3"]
    project = f.by_type("IfcProject")[0]
    crs = ifcopenshell.util.element.get_pset(project, "ePSet_ProjectedCRS")
    conv = ifcopenshell.util.element.get_pset(project, "ePSet_MapConversion")
    assert crs["Name"] == "EPSG:4549" and crs["MapUnit"] == "METRE"
    assert (conv["Eastings"], conv["Northings"], conv["OrthogonalHeight"]) == (464_440.0, 2_865_600.0, 5.0)
    assert (conv["XAxisAbscissa"], conv["XAxisOrdinate"], conv["Scale"]) == (1.0, 0.0, 1.0)
    histories = f.by_type("IfcOwnerHistory")
    assert len(histories) == 1 and histories[0].CreationDate == layout.TIMESTAMP
    assert all(r.OwnerHistory == histories[0] for r in f.by_type("IfcRoot"))


def test_site_latitude_matches_the_map_conversion_except_the_school(models: dict) -> None:
    to_map = Transformer.from_crs("EPSG:4490", layout.CITY_CRS, always_xy=True)
    for spec in city_specs():
        f = models[spec.model_id]
        site = f.by_type("IfcSite")[0]
        lat, lon = (sum(v / 60**k for k, v in enumerate(site.RefLatitude[:3])) + site.RefLatitude[3] / 3.6e9,
                    sum(v / 60**k for k, v in enumerate(site.RefLongitude[:3])) + site.RefLongitude[3] / 3.6e9)
        e, n = to_map.transform(lon, lat)
        origin = spec.to_map(0.0, 0.0)  # RefLatitude/RefLongitude locate the site's placement origin
        off = math.hypot(e - origin[0], n - origin[1])
        assert off == pytest.approx(120.0, abs=1.0) if spec.model_id == "binhai-school" else off < 1.0


@pytest.mark.parametrize("spec", city_specs(), ids=lambda s: s.model_id)
def test_every_building_footprint_lies_inside_its_parcel_behind_the_setback(spec: BuildingSpec, models: dict) -> None:
    f = models[spec.model_id]
    verts = _world_vertices(f, f.by_type("IfcWall") + f.by_type("IfcColumn"))
    xyz = np.vstack(list(verts.values()))
    hull = MultiPoint(_to_map(f, xyz)).convex_hull
    _use, _b, max_height, _far, _cov, setback = layout.PARCELS[spec.parcel_id]
    assert _parcel(spec.parcel_id).buffer(-setback).contains(hull)
    assert hull.area == pytest.approx(spec.width * spec.depth, rel=0.01)
    assert xyz[:, 2].max() < max_height


def test_gis_layers_have_the_documented_columns_in_the_city_crs(city: Path) -> None:
    gpkg = city / "city.gpkg"
    assert {name for name, _ in pyogrio.list_layers(gpkg)} == set(LAYER_COLUMNS)
    for layer, columns in LAYER_COLUMNS.items():
        frame = pyogrio.read_dataframe(gpkg, layer=layer)
        assert columns <= set(frame.columns), layer
        assert frame.crs.to_epsg() == 4549
    parcels = pyogrio.read_dataframe(gpkg, layer="parcels").set_index("parcel_id")
    assert parcels.loc["BH-02", "geometry"].bounds[1] == layout.AVENUE_RED_LINE_NORTH
    assert all(100 <= math.sqrt(a) <= 200 for a in parcels["area_m2"])
    redlines = pyogrio.read_dataframe(gpkg, layer="road_redlines").set_index("road_id")
    assert redlines.loc["R-BA", "geometry"].bounds == pytest.approx((464_300, 2_865_680, 465_500, 2_865_720))


def test_existing_buildings_include_every_ifc_footprint_and_a_neighbour_of_the_submission_parcel(city: Path) -> None:
    frame = pyogrio.read_dataframe(city / "city.gpkg", layer="buildings_existing").set_index("name")
    for spec in city_specs():
        assert frame.loc[spec.title, "geometry"].symmetric_difference(Polygon(spec.footprint())).area < 0.01
    neighbours = [g for g in frame.geometry if _parcel("BH-03").contains(g)]
    assert neighbours
    assert not any(_parcel(layout.SUBMISSION_PARCEL).intersects(g) for g in frame.geometry)


def test_buried_pipelines_keep_clear_of_the_tunnel_protection_zone(city: Path) -> None:
    pipes = pyogrio.read_dataframe(city / "city.gpkg", layer="pipelines")
    outer = layout.TUNNEL_AXIS_N + layout.TUNNEL_OUTER_WIDTH / 2
    zone = box(layout.TUNNEL_E0, outer - layout.TUNNEL_OUTER_WIDTH - 3.0, layout.TUNNEL_E1, outer + 3.0)
    assert not any(g.intersects(zone) for g in pipes.geometry)
    assert set(pipes["type"]) == {"water", "gas", "sewer", "storm", "power", "telecom"}


def test_expected_toml_matches_the_submission_geometry(city: Path, models: dict) -> None:
    expected = tomllib.loads((city / "submissions" / "expected.toml").read_text())
    assert expected["compliant"]["fails"] == []
    assert expected["violating"]["fails"] == ["height", "setback", "tunnel_protection", "internal_clash"]
    site = _parcel(layout.SUBMISSION_PARCEL)
    for key, spec in (("compliant", COMPLIANT), ("violating", VIOLATING)):
        f = models[spec.model_id]
        measured = expected[key]["measured"]
        above = [e for e in f.by_type("IfcBuildingElement")
                 if ifcopenshell.util.element.get_container(e).Elevation >= 0]
        verts = np.vstack(list(_world_vertices(f, above).values()))
        assert verts[:, 2].max() == pytest.approx(measured["height_m"], abs=1e-6)
        footprint = MultiPoint(_to_map(f, verts)).convex_hull
        assert site.contains(footprint)
        assert site.exterior.distance(footprint) == pytest.approx(measured["min_setback_m"], abs=1e-3)
        basement = [e for e in f.by_type("IfcBuildingElement")
                    if ifcopenshell.util.element.get_container(e).Name == "B1"]
        b_verts = _to_map(f, np.vstack(list(_world_vertices(f, basement).values())))
        assert b_verts[:, 1].min() == pytest.approx(measured["basement_min_northing"], abs=1e-3)
    assert expected["violating"]["measured"]["basement_min_northing"] < layout.AVENUE_RED_LINE_NORTH + 1.0


def test_planted_clashes_overlap_and_are_named_in_the_readme(city: Path, models: dict) -> None:
    readme = (city / "README.md").read_text()
    expected = tomllib.loads((city / "submissions" / "expected.toml").read_text())
    assert not expected["compliant"].get("clashes")
    planted = [(VIOLATING.model_id, c["a_guid"], c["b_guid"]) for c in expected["violating"]["clashes"]]
    planted += [(m, a, b) for m, a, b in re.findall(r"^\| ([\w-]+) \| [\w-]+ \| .*?\(`(\S+)`\) \| .*?\(`(\S+)`\) \|$",
                                                    readme, flags=re.MULTILINE)]
    assert {m for m, _, _ in planted} == {spec.model_id for spec in city_specs()} | {VIOLATING.model_id}
    for model_id, a_guid, b_guid in planted:
        f = models[model_id]
        a, b = f.by_guid(a_guid), f.by_guid(b_guid)
        boxes = [(v.min(0), v.max(0)) for v in _world_vertices(f, [a, b]).values()]
        overlap = np.minimum(boxes[0][1], boxes[1][1]) - np.maximum(boxes[0][0], boxes[1][0])
        assert (overlap > 0.05).all(), (model_id, a.Name, b.Name)
        assert a_guid in readme and b_guid in readme

"""Georeferencing: small models built with ifcopenshell.api at the sample city point, plus real fixtures."""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import ifcopenshell
import ifcopenshell.api.aggregate
import ifcopenshell.api.context
import ifcopenshell.api.geometry
import ifcopenshell.api.georeference
import ifcopenshell.api.owner
import ifcopenshell.api.root
import ifcopenshell.api.unit
import ifcopenshell.util.geolocation
import numpy as np
import pytest
from pyproj import CRS, Transformer

from cim.errors import ConfigError, GeorefError
from cim.georef import Georef, placement_georef, resolve_georef
from cim.georef.ifcread import compound_to_degrees

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
CITY = "EPSG:4549"
E0, N0 = 464_900.0, 2_865_800.0
PATH = "sample/building.ifc"


def _fixture(rel: str) -> Path:
    path = FIXTURES / rel
    if not path.exists():
        pytest.skip(f"fixture {rel} not present")
    return path


def _city_lonlat(e: float, n: float) -> tuple[float, float]:
    return Transformer.from_crs(CITY, "EPSG:4326", always_xy=True).transform(e, n)


def make_model(
    schema: str = "IFC4",
    *,
    mm: bool = False,
    conversion: dict | None = None,
    crs: dict | None = None,
    ifc_class: str = "IfcMapConversion",
    map_unit: str | None = "METRE",
    site_lonlat: tuple[float, float] | None = None,
    true_north: tuple[float, float] | None = None,
) -> ifcopenshell.file:
    """A project with one site, metre or mm units and (optionally) a map conversion."""
    f = ifcopenshell.file(schema=schema)
    if schema == "IFC2X3":  # IFC2X3 requires an owner history, hence a user and an application
        person = ifcopenshell.api.owner.add_person(f)
        org = ifcopenshell.api.owner.add_organisation(f)
        ifcopenshell.api.owner.add_person_and_organisation(f, person=person, organisation=org)
        ifcopenshell.api.owner.add_application(f, application_developer=org)
    project = ifcopenshell.api.root.create_entity(f, ifc_class="IfcProject", name="P")
    length = ifcopenshell.api.unit.add_si_unit(f, unit_type="LENGTHUNIT", prefix="MILLI" if mm else None)
    ifcopenshell.api.unit.assign_unit(f, units=[length])
    ifcopenshell.api.context.add_context(f, context_type="Model")
    site = ifcopenshell.api.root.create_entity(f, ifc_class="IfcSite", name="S")
    ifcopenshell.api.aggregate.assign_object(f, products=[site], relating_object=project)
    if site_lonlat is not None:
        site.RefLongitude = ifcopenshell.util.geolocation.dd2dms(site_lonlat[0], use_us=True)
        site.RefLatitude = ifcopenshell.util.geolocation.dd2dms(site_lonlat[1], use_us=True)
    if true_north is not None:
        ifcopenshell.api.georeference.edit_true_north(f, true_north=true_north)
    if conversion is not None:
        ifcopenshell.api.georeference.add_georeferencing(f, ifc_class=ifc_class, name=CITY)
        crs_attrs = {"Name": CITY, **(crs or {})}
        ifcopenshell.api.georeference.edit_georeferencing(f, coordinate_operation=conversion, projected_crs=crs_attrs)
        if map_unit and schema == "IFC2X3":
            ifcopenshell.api.georeference.edit_georeferencing(f, projected_crs={"MapUnit": map_unit})
        elif map_unit:
            f.by_type("IfcProjectedCRS")[0].MapUnit = ifcopenshell.api.unit.add_si_unit(f, unit_type="LENGTHUNIT")
    return f


def at_city(**extra) -> dict:
    return {"Eastings": E0, "Northings": N0, "OrthogonalHeight": 12.5, **extra}


def test_a_metre_model_maps_its_origin_onto_the_city_point():
    geo = resolve_georef(make_model(conversion=at_city(Scale=1.0)), PATH, CITY)
    assert (geo.level, geo.method, geo.source_crs) == (50, "IfcMapConversion", CITY)
    out = geo.to_city(np.array([[0.0, 0.0, 0.0], [1.25, -2.5, 3.0]]))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, [[E0, N0, 12.5], [E0 + 1.25, N0 - 2.5, 15.5]], rtol=0, atol=1e-9)
    assert geo.warnings == ()


def test_a_model_in_millimetres_with_scale_lands_on_the_same_point_as_the_metre_model():
    pts = np.array([[12.345, -6.789, 3.21], [0.001, 0.002, 0.003]])
    metre = resolve_georef(make_model(conversion=at_city(Scale=1.0)), PATH, CITY)
    milli = resolve_georef(make_model(mm=True, conversion=at_city(Scale=0.001)), PATH, CITY)
    assert milli.unit_scale == pytest.approx(0.001)
    np.testing.assert_allclose(milli.to_city(pts), metre.to_city(pts), rtol=0, atol=1e-6)
    assert milli.warnings == ()


def test_a_millimetre_model_without_scale_lands_there_too_and_warns():
    pts = np.array([[12.345, -6.789, 3.21]])
    metre = resolve_georef(make_model(conversion=at_city(Scale=1.0)), PATH, CITY)
    milli = resolve_georef(make_model(mm=True, conversion=at_city()), PATH, CITY)
    assert milli.scale == pytest.approx(0.001)
    np.testing.assert_allclose(milli.to_city(pts), metre.to_city(pts), rtol=0, atol=1e-6)
    assert any("Scale missing" in w for w in milli.warnings)


def test_a_millimetre_model_with_scale_one_is_used_as_given_but_warns():
    geo = resolve_georef(make_model(mm=True, conversion=at_city(Scale=1.0)), PATH, CITY)
    assert geo.scale == 1.0
    assert any("differs from the unit ratio" in w for w in geo.warnings)


def test_a_missing_map_unit_falls_back_to_the_crs_unit_with_a_warning():
    geo = resolve_georef(make_model(conversion=at_city(Scale=1.0), map_unit=None), PATH, CITY)
    assert geo.map_unit_scale == 1.0
    assert any("MapUnit missing" in w for w in geo.warnings)


def test_a_rotated_model_puts_local_x_at_the_rotated_point_exactly():
    a, b = math.cos(math.radians(30)), math.sin(math.radians(30))
    geo = resolve_georef(make_model(conversion=at_city(XAxisAbscissa=a * 5, XAxisOrdinate=b * 5)), PATH, CITY)
    assert geo.rotation_deg == pytest.approx(30.0, abs=1e-12)
    out = geo.to_city(np.array([[10.0, 0.0, 0.0], [0.0, 10.0, 0.0]]))
    np.testing.assert_allclose(out[0], [E0 + 10 * a, N0 + 10 * b, 12.5], rtol=0, atol=1e-9)
    np.testing.assert_allclose(out[1], [E0 - 10 * b, N0 + 10 * a, 12.5], rtol=0, atol=1e-9)


def test_true_north_is_never_the_rotation_but_a_contradicting_one_warns():
    a, b = math.cos(math.radians(30)), math.sin(math.radians(30))
    conv = at_city(XAxisAbscissa=a, XAxisOrdinate=b)
    convergence = -0.153  # near 119.65 E, 25.9 N in the 3-degree zone with CM 120 E
    good = math.radians(90 + convergence - 30)
    agreeing = resolve_georef(make_model(conversion=conv, true_north=(math.cos(good), math.sin(good))), PATH, CITY)
    assert not any("TrueNorth" in w for w in agreeing.warnings)
    assert agreeing.rotation_deg == pytest.approx(30.0)
    naive = resolve_georef(make_model(conversion=conv, true_north=(0.0, 1.0)), PATH, CITY)
    assert any("TrueNorth" in w and "convergence" in w for w in naive.warnings)
    assert naive.rotation_deg == pytest.approx(30.0)


def test_an_ifc2x3_model_with_epset_map_conversion_resolves():
    geo = resolve_georef(
        make_model("IFC2X3", conversion=at_city(Scale=1.0, XAxisAbscissa=0.0, XAxisOrdinate=1.0)), PATH, CITY
    )
    assert (geo.level, geo.method) == (50, "ePSet_MapConversion")
    assert geo.map_unit_scale == 1.0 and geo.warnings == ()
    np.testing.assert_allclose(geo.to_city(np.array([[10.0, 0, 0]])), [[E0, N0 + 10, 12.5]], atol=1e-9)


def test_an_ifc4x3_scaled_conversion_with_a_wkt_crs_applies_its_factors():
    f = make_model(
        "IFC4X3_ADD2",
        conversion=at_city(Scale=1.0, FactorX=0.9999, FactorY=1.0001, FactorZ=1.0),
        crs={"Name": "WKT"},
        ifc_class="IfcMapConversionScaled",
    )
    wkt = CRS(CITY).to_wkt()
    f.create_entity("IfcWellKnownText", WellKnownText=wkt, CoordinateReferenceSystem=f.by_type("IfcProjectedCRS")[0])
    geo = resolve_georef(f, PATH, CITY)
    assert geo.method == "IfcMapConversionScaled" and geo.source_crs == wkt
    assert (geo.factor_x, geo.factor_y, geo.factor_z) == (0.9999, 1.0001, 1.0)
    out = geo.to_city(np.array([[100.0, 50.0, 10.0]]))
    np.testing.assert_allclose(out, [[E0 + 99.99, N0 + 50.005, 22.5]], rtol=0, atol=1e-4)


def test_a_model_in_a_neighbouring_crs_is_transformed_onto_the_city_point():
    to_utm = Transformer.from_crs(CITY, "EPSG:32650", always_xy=True)
    e, n = to_utm.transform(E0, N0)
    f = make_model(
        conversion={"Eastings": e, "Northings": n, "OrthogonalHeight": 0.0, "Scale": 1.0}, crs={"Name": "EPSG:32650"}
    )
    geo = resolve_georef(f, PATH, CITY)
    assert geo.source_crs == "EPSG:32650" and geo.city_crs == CITY
    out = geo.to_city(np.array([[0.0, 0.0, 0.0], [100.0, 0.0, 0.0]]))
    direct = Transformer.from_crs("EPSG:32650", CITY, always_xy=True).transform([e, e + 100], [n, n])
    np.testing.assert_allclose(out[:, :2], np.column_stack(direct), rtol=0, atol=0.05)
    np.testing.assert_allclose(out[0, :2], [E0, N0], rtol=0, atol=0.05)


def test_site_lat_lon_that_agrees_gives_no_warning():
    geo = resolve_georef(make_model(conversion=at_city(Scale=1.0), site_lonlat=_city_lonlat(E0, N0)), PATH, CITY)
    assert geo.site_offset_m is not None and geo.site_offset_m < 1.0
    assert geo.site_reference[0] == pytest.approx(25.9, abs=0.01)
    assert not any("IfcSite" in w for w in geo.warnings)


def test_site_lat_lon_120_m_off_warns_with_the_distance():
    geo = resolve_georef(make_model(conversion=at_city(Scale=1.0), site_lonlat=_city_lonlat(E0, N0 + 120)), PATH, CITY)
    assert geo.site_offset_m == pytest.approx(120.0, abs=1.0)
    assert any("disagree with the map conversion by 120 m" in w for w in geo.warnings)


def test_a_model_without_georeferencing_is_refused_naming_the_file():
    with pytest.raises(GeorefError) as err:
        resolve_georef(make_model(), "models/unplaced.ifc", CITY)
    assert err.value.path == "models/unplaced.ifc" and err.value.stage == "georef"
    assert '[models."unplaced.ifc"] placement' in err.value.hint


def test_a_site_at_absolute_coordinates_is_level_30_and_still_needs_a_placement():
    f = make_model()
    matrix = np.eye(4)
    matrix[:3, 3] = (E0, N0, 0.0)
    ifcopenshell.api.geometry.edit_object_placement(f, product=f.by_type("IfcSite")[0], matrix=matrix)
    with pytest.raises(GeorefError, match="LoGeoRef 30"):
        resolve_georef(f, PATH, CITY)
    geo = resolve_georef(f, PATH, CITY, {"eastings": 0.0, "northings": 0.0})
    assert geo.level == 30
    np.testing.assert_allclose(geo.to_city(np.array([[E0, N0, 0.0]])), [[E0, N0, 0.0]], atol=1e-9)


def test_an_unknown_city_crs_is_a_config_error():
    with pytest.raises(ConfigError, match="EPSG:12345678"):
        resolve_georef(make_model(conversion=at_city()), PATH, "EPSG:12345678")


def test_eastings_in_millimetres_are_refused_as_outside_the_area_of_use():
    conv = {"Eastings": E0 * 1000, "Northings": N0 * 1000, "OrthogonalHeight": 0.0, "Scale": 0.001}
    with pytest.raises(GeorefError) as err:
        resolve_georef(make_model(mm=True, conversion=conv), PATH, CITY)
    assert "area of use" in err.value.reason and "1000x" in err.value.hint


def test_an_unknown_crs_name_is_refused_naming_it():
    with pytest.raises(GeorefError, match="EPSG:999999"):
        resolve_georef(make_model(conversion=at_city(), crs={"Name": "EPSG:999999"}), PATH, CITY)


def test_a_config_placement_places_a_model_without_map_conversion():
    f = make_model(mm=True, site_lonlat=_city_lonlat(E0, N0))
    geo = resolve_georef(f, PATH, CITY, {"eastings": E0, "northings": N0, "height": 4.0, "rotation_deg": 90})
    assert (geo.level, geo.method, geo.scale) == (20, "config placement", pytest.approx(0.001))
    np.testing.assert_allclose(geo.to_city(np.array([[10.0, 0.0, 1.0]])), [[E0, N0 + 10, 5.0]], atol=1e-9)
    assert geo.site_offset_m < 1.0
    bare = resolve_georef(make_model(), PATH, CITY, {"eastings": E0, "northings": N0})
    assert bare.level == 0 and bare.rotation_deg == 0.0


def test_a_placement_in_another_crs_is_transformed_and_bad_placements_are_config_errors():
    e, n = Transformer.from_crs(CITY, "EPSG:32650", always_xy=True).transform(E0, N0)
    geo = placement_georef({"eastings": e, "northings": n, "crs": "EPSG:32650"}, PATH, CITY, 1.0)
    np.testing.assert_allclose(geo.to_city(np.zeros((1, 3)))[0, :2], [E0, N0], atol=0.05)
    with pytest.raises(ConfigError, match="eastings"):
        placement_georef({"northings": N0}, PATH, CITY, 1.0)
    with pytest.raises(ConfigError, match="rotaton"):
        placement_georef({"eastings": E0, "northings": N0, "rotaton_deg": 5}, PATH, CITY, 1.0)


def test_a_placement_is_ignored_when_the_file_has_a_map_conversion():
    geo = resolve_georef(make_model(conversion=at_city(Scale=1.0)), PATH, CITY, {"eastings": 1.0, "northings": 2.0})
    assert geo.method == "IfcMapConversion" and geo.eastings == E0
    assert any("placement in cim.toml ignored" in w for w in geo.warnings)


def test_the_record_is_json_and_the_georef_pickles_for_worker_processes():
    geo = resolve_georef(make_model(conversion=at_city(XAxisAbscissa=0.0, XAxisOrdinate=1.0)), PATH, CITY)
    record = json.loads(json.dumps(geo.as_record()))
    assert record["rotation_deg"] == pytest.approx(90.0) and record["level"] == 50
    again: Georef = pickle.loads(pickle.dumps(geo))
    np.testing.assert_array_equal(again.to_city(np.ones((2, 3))), geo.to_city(np.ones((2, 3))))


def test_compound_angles_with_negative_parts_or_only_negative_degrees_read_the_same():
    assert compound_to_degrees((-87, -38, -21, -839999)) == pytest.approx(-87.6394, abs=1e-4)
    assert compound_to_degrees((-87, 38, 21, 839999)) == pytest.approx(-87.6394, abs=1e-4)
    assert compound_to_degrees((49, 6, 1, 566000)) == pytest.approx(49.100435, abs=1e-6)


def test_the_real_bridge_deck_resolves_in_its_own_utm_zone():
    path = _fixture("ifc4x3/georeferenced-bridge-deck.ifc")
    geo = resolve_georef(ifcopenshell.open(str(path)), path, "EPSG:32610")
    assert (geo.level, geo.scale) == (50, 0.9996)
    assert geo.rotation_deg == pytest.approx(95.6, abs=0.05)
    assert geo.vertical_datum == "EPSG:5703"
    np.testing.assert_allclose(geo.to_city(np.zeros((1, 3)))[0, :2], [545991.68, 4184941.97], atol=0.01)


def test_the_real_bridge_deck_is_refused_by_a_chinese_city():
    path = _fixture("ifc4x3/georeferenced-bridge-deck.ifc")
    with pytest.raises(GeorefError, match="area of use") as err:
        resolve_georef(ifcopenshell.open(str(path)), path, CITY)
    assert "lon -122.4" in err.value.reason


def test_the_real_signal_file_with_identity_conversion_keeps_map_coordinates():
    path = _fixture("ifc4x3/linear-placement-of-signal.ifc")
    geo = resolve_georef(ifcopenshell.open(str(path)), path, "EPSG:3065")
    assert geo.level == 50 and geo.rotation_deg == 0.0
    np.testing.assert_allclose(
        geo.to_city(np.array([[452601.0, 4539528.0, 10.0]])), [[452601.0, 4539528.0, 10.0]], atol=1e-9
    )


@pytest.mark.parametrize(
    ("rel", "lat", "lon"),
    [("ifc2x3/Duplex_A_20110907.ifc", 41.8744, -87.6394), ("ifc4/AC20-FZK-Haus.ifc", 49.100435, 8.436539)],
)
def test_real_lat_lon_only_files_are_level_20_refused_alone_and_placed_with_config(rel, lat, lon):
    path = _fixture(rel)
    model = ifcopenshell.open(str(path))
    with pytest.raises(GeorefError, match="LoGeoRef 20"):
        resolve_georef(model, path, CITY)
    geo = resolve_georef(model, path, CITY, {"eastings": E0, "northings": N0})
    assert (geo.level, geo.method) == (20, "config placement")
    assert geo.site_reference[:2] == pytest.approx((lat, lon), abs=1e-4)
    assert any("disagree with the config placement" in w for w in geo.warnings)
    np.testing.assert_allclose(geo.to_city(np.zeros((1, 3))), [[E0, N0, 0.0]], atol=1e-9)

"""The whole sample city through the library (no Prefect): every model lands on its parcel."""

from __future__ import annotations

import pytest

from cim.query import run_query

PARCELS = {"block-a": "BH-01", "binhai-school": "BH-04", "haixia-office": "BH-05", "community-centre": "BH-12",
           "block-b-2x3": "BH-11"}


@pytest.fixture(scope="module")
def city(sample_city):
    store, _, outcomes = sample_city
    return store, outcomes


def test_every_sample_file_ingests_and_the_submissions_are_left_out(city):
    store, outcomes = city
    assert [o.action for o in outcomes] == ["ingested"] * 7, [o.message for o in outcomes]
    assert not any("submissions" in o.path for o in outcomes)
    ids = set(store.current_models()["model_id"].to_pylist())
    assert ids == {*PARCELS, "tunnel-binhai", "parcels", "roads", "road_redlines", "buildings_existing", "pipelines"}


@pytest.mark.parametrize("model_id", sorted(PARCELS))
def test_each_building_footprint_lies_inside_its_parcel(city, model_id):
    store, _ = city
    row = run_query(store, f"""
        SELECT p.parcel_id, ST_Within(b.footprint, p.geometry), ST_Area(b.footprint)
        FROM buildings b JOIN parcels p ON ST_Intersects(b.footprint, p.geometry)
        WHERE b.model_id = '{model_id}'""").fetchall()
    assert row and row[0][0] == PARCELS[model_id] and row[0][1] is True and row[0][2] > 100


def test_the_millimetre_and_rotated_models_have_plausible_sizes(city):
    store, _ = city
    rows = dict(run_query(store, "SELECT model_id, height_m FROM buildings").fetchall())
    assert rows["community-centre"] == pytest.approx(8.4, abs=0.6)  # mm model: not 1000x
    assert rows["haixia-office"] == pytest.approx(30.4, abs=0.6)


def test_the_school_warns_that_its_site_latitude_disagrees(city):
    store, _ = city
    school = store.latest("binhai-school")
    assert school["status"] == "warning" and "disagree" in school["message"]


def test_the_tunnel_runs_a_kilometre_under_the_avenue(city):
    store, _ = city
    (tunnel,) = store.read_model("buildings", "tunnel-binhai").to_pylist()
    assert tunnel["footprint_area_m2"] == pytest.approx(1000 * 10, rel=0.01)
    assert tunnel["top_elevation_m"] <= 2.0 + 1e-6 and tunnel["base_elevation_m"] == pytest.approx(-2.0, abs=0.01)
    inside = run_query(store, "SELECT ST_Within(b.footprint, ST_Buffer(r.geometry, 0.01)) FROM buildings b, "
                              "road_redlines r WHERE b.model_id = 'tunnel-binhai' AND r.name LIKE 'Binhai%'").fetchall()
    assert (True,) in inside

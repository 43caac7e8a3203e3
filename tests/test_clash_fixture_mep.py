"""The real domestic hot water model (buildingSMART, made in Bonsai): connected pipework is never a clash,
pipes chased into the wall are."""

from __future__ import annotations

import pytest

from cim.clash.engine import Checker
from cim.clash.rules import load_rules
from cim.clash.selectors import is_a
from cim.clash.source import load_models
from cim.config import CityConfig
from cim.ingest.run import ingest_file
from cim.store import Store
from tests.conftest import fixture_path


@pytest.fixture(scope="module")
def mep(tmp_path_factory):
    path = fixture_path("mep/domestic-hot-water.ifc")
    config = CityConfig(path=None, name="t", crs="EPSG:4549", default_phase="build", models={
        path.name: {"placement": {"eastings": 464_900.0, "northings": 2_865_800.0, "height": 5.0}}})
    store = Store(tmp_path_factory.mktemp("mep") / "store", "EPSG:4549")
    assert ingest_file(store, config, path).action == "ingested"
    elements = load_models(store)
    checker = Checker(elements)
    findings = checker.run(load_rules())
    rows = {r["key"]: r for r in elements.rows}
    return checker, [(f, rows[f.a], rows[f.b]) for f in findings]


def test_connected_pipes_fittings_and_valves_never_clash_with_each_other(mep):
    checker, found = mep
    assert checker.stats.suppressed > 0  # the model's port connections were read as intent
    assert not [f for f, a, b in found if is_a(a["ifc_class"], ("IfcDistributionElement",))
                and is_a(b["ifc_class"], ("IfcDistributionElement",))]


def test_the_pipes_laid_into_the_wall_are_reported_against_that_wall_only(mep):
    _, found = mep
    assert found
    for f, a, b in found:
        assert f.rule.name == "structure-vs-mep"
        assert {a["ifc_class"], b["ifc_class"]} & {"IfcWall"}
        assert f.mode in ("hard", "containment")
        assert 0.01 < f.contact.depth < 0.03  # a DN20 pipe sunk about its diameter into the wall

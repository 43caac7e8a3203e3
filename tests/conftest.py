"""Shared test helpers: real fixtures (skipped when absent) and small models built with ifcopenshell.api."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"
SAMPLES = ROOT / "sample_models"

# `make test` runs the suite in two processes (pytest-xdist). Prefect keeps its settings, logs and local
# database under PREFECT_HOME; each test process gets its own, so two flows never share one SQLite file.
if os.environ.get("PYTEST_XDIST_WORKER"):
    _prefect_home = tempfile.mkdtemp(prefix=f"cim-prefect-{os.environ['PYTEST_XDIST_WORKER']}-")
    os.environ["PREFECT_HOME"] = _prefect_home
    atexit.register(shutil.rmtree, _prefect_home, ignore_errors=True)


def fixture_path(relative: str) -> Path:
    path = FIXTURES / relative
    if not path.exists():
        pytest.skip(f"shared fixture {relative} is not present")
    return path


@pytest.fixture
def fixtures_dir() -> Path:
    if not FIXTURES.exists():
        pytest.skip("../shared/fixtures is not present")
    return FIXTURES


@pytest.fixture(scope="session")
def tunnel_store(tmp_path_factory):
    """The sample tunnel ingested and analysed once for every tunnel test (read-only use)."""
    from cim.config import load_config
    from cim.ingest.run import ingest_file
    from cim.store import Store
    from cim.tunnel.run import analyse_tunnel

    tunnel = SAMPLES / "tunnel" / "utility_tunnel.ifc"
    cfg = load_config(SAMPLES / "cim.toml")
    store = Store(tmp_path_factory.mktemp("tunnel") / "s", cfg.crs)
    ingest_file(store, cfg, tunnel)
    analyse_tunnel(store, "tunnel-binhai", tunnel)
    return store


@pytest.fixture(scope="session")
def sample_city(tmp_path_factory):
    """The whole sample city (layers, buildings, tunnel) ingested once: (store, config, outcomes).

    Tests may add derived tables (clashes) but must not re-ingest or change the models."""
    from cim.config import load_config
    from cim.inbox import discover
    from cim.ingest.run import ingest_file
    from cim.store import Store

    config = load_config(SAMPLES / "cim.toml")
    store = Store(tmp_path_factory.mktemp("city") / "store", config.crs)
    outcomes = [ingest_file(store, config, path, workers=2) for path in discover(config)]
    return store, config, outcomes


@pytest.fixture(scope="session")
def clash_city(sample_city):
    """The sample city's elements (read once), the default rules, and a function making a fresh Checker."""
    from cim.clash.engine import Checker, local_origin
    from cim.clash.rules import load_rules
    from cim.clash.source import load_models
    from cim.clash.zone_build import build_zones

    store, config, _ = sample_city
    rules = load_rules()
    elements = load_models(store)
    origin = local_origin(elements.bounds)

    def checker() -> Checker:
        return Checker(elements, build_zones(rules, store, origin, config.ground_elevation_m, config.root), origin)

    return elements, rules, checker


@pytest.fixture(scope="session")
def sample_flow_repo():
    """A copy of the project with ./cim-data built by `make run` (the real nightly flow over the sample city).

    Yields (repo, completed `make run` process). Built once per session (about 1.5 minutes); tests run
    commands in the copy as a user would and must not re-ingest the sample models. The copy lives in its
    own temporary folder, not pytest's numbered ones, which other pytest sessions of the same user prune."""
    import shutil
    import subprocess
    import tempfile

    from tests.readme_commands import copy_repository, user_env

    repo = copy_repository(Path(tempfile.mkdtemp(prefix="cim-readme-")))
    done = subprocess.run(["make", "run"], cwd=repo, env=user_env(repo), capture_output=True, text=True,
                          timeout=2700)
    if not (repo / "cim-data" / "models").is_dir():
        pytest.fail(f"`make run` built no store (exit {done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")
    yield repo, done
    shutil.rmtree(repo, ignore_errors=True)


@pytest.fixture(scope="session")
def city_store(tmp_path_factory):
    """Two small IFC models (two walls each) and a parcels layer, ingested once for the query tests."""
    import geopandas as gpd
    import shapely

    from cim.config import default_config
    from cim.ingest.run import ingest_file
    from cim.store import Store
    from tests.models import add_wall, new_model, write

    root = tmp_path_factory.mktemp("city")
    store = Store(root / "store", "EPSG:4549")
    city = default_config("EPSG:4549")
    for name, east in (("north", 464_900.0), ("far", 465_300.0)):
        f, ctx = new_model(eastings=east)
        add_wall(f, ctx, name="Wall A")
        add_wall(f, ctx, name="Wall B", start=(0.0, 6.0, 0.0))
        ingest_file(store, city, write(f, root / f"{name}.ifc"))
    parcels = gpd.GeoDataFrame({"parcel_id": ["BH-01", "BH-02"]},
                               geometry=[shapely.box(464_890, 2_865_790, 464_920, 2_865_820),
                                         shapely.box(465_000, 2_865_790, 465_100, 2_865_820)], crs="EPSG:4549")
    parcels.to_file(root / "city.gpkg", layer="parcels")
    ingest_file(store, city, root / "city.gpkg")
    return store


@pytest.fixture(scope="session")
def violating_review(sample_city, tmp_path_factory):
    """`cim review` of the violating sample submission against the sample city, once: (exit code, out folder)."""
    from typer.testing import CliRunner

    from cim.cli import app

    store, config, _ = sample_city
    out = tmp_path_factory.mktemp("violating-review") / "out"
    result = CliRunner().invoke(app, ["review", str(SAMPLES / "submissions" / "violating.ifc"), "--store",
                                      str(store.root), "--config", str(config.path), "--out", str(out)])
    return result.exit_code, out

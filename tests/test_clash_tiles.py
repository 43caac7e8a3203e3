"""The clash check by spatial tiles finds what the untiled check finds, each pair once, however the grid cuts
the city (elements straddling tile edges included)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from cim.clash.rules import load_rules
from cim.clash.tiles import Tile, check_tile, check_tiled, tile_size, tiles


@pytest.fixture(scope="module")
def city(clash_city):
    return clash_city


def _found(findings) -> Counter:
    return Counter((f.rule.name, f.a, f.b, f.mode, tuple(np.round(f.point, 6))) for f in findings)


# Small enough that many clashing elements straddle tile edges (asserted below), large enough to run in seconds.
SMALL_TILE_M = 12.0


@pytest.mark.parametrize("size", [SMALL_TILE_M, 37.0, 1000.0])
def test_the_tiled_check_finds_exactly_the_untiled_findings_each_once(city, size):
    elements, rules, checker = city
    untiled = _found(checker().run(rules))
    assert untiled, "the sample city has planted clashes"
    tiled = _found(check_tiled(checker(), rules, size))
    assert tiled == untiled
    assert max(tiled.values()) == 1


def test_clashing_elements_straddle_the_edges_of_the_small_tiles(city):
    elements, rules, checker = city
    found = checker().run(rules)
    keys = {k for f in found for k in (f.a, f.b) if k in elements}
    b = elements.bounds[[elements.index(k) for k in keys]]
    cells = np.floor(b / SMALL_TILE_M)
    straddling = (cells[:, 0] != cells[:, 3]) | (cells[:, 1] != cells[:, 4])
    assert straddling.sum() >= 3  # the equality above covers pairs met in several tiles


def test_a_tile_task_reports_only_pairs_anchored_in_it(city):
    elements, rules, checker = city
    all_tiles = tiles(elements.bounds, 37.0, max(r.margin for r in rules.rules))
    per_tile = [check_tile(checker(), rules, t) for t in all_tiles]
    for tile, found in zip(all_tiles, per_tile, strict=True):
        for f in found:
            if f.b in elements:
                a, b = elements.bounds[elements.index(f.a)], elements.bounds[elements.index(f.b)]
                assert tile.holds(np.array([max(a[0], b[0])]), np.array([max(a[1], b[1])]))[0]
    assert sum(1 for found in per_tile if found) >= 2  # the city's clashes fall in several tiles


def test_tile_sizes_are_round_and_the_grid_covers_every_box():
    bounds = np.array([[464_900.0, 2_865_800.0, 0, 465_400.0, 2_866_300.0, 10]])
    size = tile_size(bounds, 16)
    assert size == 200.0 and tile_size(bounds, 1) == 500.0 and tile_size(bounds, 400) == 50.0
    grid = tiles(bounds, 100.0)
    assert len(grid) == 6 * 6 and Tile(464_900.0, 2_865_800.0, 465_000.0, 2_865_900.0) in grid
    with pytest.raises(ValueError):
        tiles(bounds, 0.0)


# ---- check_city by tiles: the clashes table the store gets --------------------------------------------------

def _copy(store, folder):
    import shutil

    from cim.store import Store

    shutil.copytree(store.root, folder)
    return Store(folder, create=False)


def _table(store) -> list[dict]:
    """The clashes rows without what differs between two runs (times, run ids), in clash_id order."""
    rows = store.read("clashes").to_pylist()
    drop = ("first_seen", "last_seen", "status_changed_at", "history", "run_id")
    return sorted(({k: v for k, v in r.items() if k not in drop} for r in rows), key=lambda r: r["clash_id"])


def _counts(summary: dict) -> dict:
    return {k: summary[k] for k in ("elements", "zones", "changed", "candidates", "tested", "suppressed", "found",
                                    "statuses", "per_rule", "incremental")}


def _mark_changed(store, keys: set[str]) -> None:
    """Make the last check's snapshot say these elements had another geometry: the next check re-tests them."""
    import pyarrow as pa

    table = store.read("clash_elements")
    hashes = [("changed" if k in keys else h) for k, h in zip(table["key"].to_pylist(),
                                                             table["geometry_hash"].to_pylist(), strict=True)]
    store.replace_table("clash_elements", table.set_column(1, "geometry_hash", pa.array(hashes, pa.string())))


@pytest.fixture(scope="module")
def two_checked_copies(sample_city, tmp_path_factory):
    """Two copies of the sample city checked in full: untiled, and by 12 m tiles. (untiled, tiled, summaries)."""
    from cim.clash.run import check_city

    store, config, _ = sample_city
    folder = tmp_path_factory.mktemp("tiled-city")
    plain, tiled = _copy(store, folder / "plain"), _copy(store, folder / "tiled")
    rules = load_rules()
    args = {"ground_z": config.ground_elevation_m, "base": config.root, "full": True}
    first = check_city(plain, rules, tile_size=0, **args)
    second = check_city(tiled, rules, tile_size=SMALL_TILE_M, **args)
    return plain, tiled, first, second, config, _table(plain)


def test_check_city_by_small_tiles_writes_the_clashes_table_of_the_untiled_check(two_checked_copies):
    plain, tiled, untiled_summary, tiled_summary, *_ = two_checked_copies
    assert untiled_summary["tiles"] == 0 and untiled_summary["tile_size"] is None
    assert tiled_summary["tile_size"] == SMALL_TILE_M and tiled_summary["tile_tasks"] == tiled_summary["tiles"] > 9
    assert tiled_summary["tiles_on"] == "local"
    assert _counts(tiled_summary) == _counts(untiled_summary)
    rows = _table(plain)
    assert len(rows) >= 5
    assert _table(tiled) == rows
    # each tile task read a small part of the city, not all of it
    assert tiled_summary["most_elements_in_a_task"] < tiled_summary["elements"] / 3


def test_an_incremental_check_by_tiles_tests_only_the_tiles_with_changes_and_writes_the_untiled_table(
        two_checked_copies):
    from cim.clash.run import check_city

    plain, tiled, _, _, config, _ = two_checked_copies
    clashing = sorted({f"{r['a_model']}/{r['a_global_id']}" for r in plain.read("clashes").to_pylist()})
    changed = set(clashing[::3])
    args = {"ground_z": config.ground_elevation_m, "base": config.root}
    summaries = []
    for store, size in ((plain, 0), (tiled, SMALL_TILE_M)):
        _mark_changed(store, changed)
        summaries.append(check_city(store, load_rules(), tile_size=size, **args))
    untiled, by_tiles = summaries
    assert untiled["incremental"] and untiled["changed"] == len(changed)
    assert _counts(by_tiles) == _counts(untiled)
    assert 0 < by_tiles["tile_tasks"] < by_tiles["tiles"]
    assert _table(tiled) == _table(plain)


def test_an_incremental_check_reads_only_the_elements_near_a_change_and_writes_the_full_checks_table(
        sample_city, two_checked_copies, tmp_path):
    from cim.clash.run import check_city

    store, config, _ = sample_city
    _, _, full_summary, _, _, untiled_rows = two_checked_copies
    copy = _copy(store, tmp_path / "near")
    args = {"ground_z": config.ground_elevation_m, "base": config.root, "tile_size": 0}
    check_city(copy, load_rules(), full=True, **args)
    clashing = sorted({f"{r['a_model']}/{r['a_global_id']}" for r in untiled_rows})
    _mark_changed(copy, {clashing[0], clashing[-1]})
    summary = check_city(copy, load_rules(), **args)
    assert summary["incremental"] and summary["changed"] == 2 and summary["tested"] > 0
    assert 2 < summary["most_elements_in_a_task"] < full_summary["elements"] / 2
    assert _table(copy) == untiled_rows


def test_tiles_checked_in_two_local_processes_give_the_same_clashes(sample_city, two_checked_copies, tmp_path):
    from cim.clash.run import check_city

    store, config, _ = sample_city
    *_, untiled_rows = two_checked_copies
    copy = _copy(store, tmp_path / "pool")
    summary = check_city(copy, load_rules(), ground_z=config.ground_elevation_m, base=config.root, full=True,
                         tile_size=37.0, workers=2)
    assert summary["tiles_on"] == "processes" and summary["tile_tasks"] > 1
    assert _table(copy) == untiled_rows


def test_a_tile_size_below_zero_is_refused_with_one_line(two_checked_copies):
    from cim.clash.run import check_city
    from cim.errors import CimError

    plain = two_checked_copies[0]
    with pytest.raises(CimError, match="negative"):
        check_city(plain, load_rules(), tile_size=-5.0)


def test_the_city_config_sets_the_tile_size_and_refuses_one_that_is_not_metres(tmp_path):
    from cim.config import load_config
    from cim.errors import ConfigError

    config = tmp_path / "cim.toml"
    config.write_text('[city]\ncrs = "EPSG:4549"\n[clash]\ntile_size = 500\n')
    assert load_config(config).clash.tile_size == 500.0
    config.write_text('[city]\ncrs = "EPSG:4549"\n')
    assert load_config(config).clash.tile_size is None
    for bad in ('"big"', "-1", "true"):
        config.write_text(f'[city]\ncrs = "EPSG:4549"\n[clash]\ntile_size = {bad}\n')
        with pytest.raises(ConfigError, match=r"\[clash\] tile_size"):
            load_config(config)
    config.write_text('[city]\ncrs = "EPSG:4549"\n[clash]\ntile = 5\n')
    with pytest.raises(ConfigError, match="unknown keys tile"):
        load_config(config)

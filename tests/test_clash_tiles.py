"""The clash check by spatial tiles finds what the untiled check finds, each pair once, however the grid cuts
the city (elements straddling tile edges included)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from cim.clash.engine import Checker, local_origin
from cim.clash.rules import load_rules
from cim.clash.source import load_models
from cim.clash.tiles import Tile, check_tile, check_tiled, tile_size, tiles
from cim.clash.zone_build import build_zones


@pytest.fixture(scope="module")
def city(sample_city):
    store, config, _ = sample_city
    rules = load_rules()
    elements = load_models(store)
    origin = local_origin(elements.bounds)

    def checker() -> Checker:
        return Checker(elements, build_zones(rules, store, origin, config.ground_elevation_m, config.root), origin)

    return elements, rules, checker


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
    assert size == 1000.0
    grid = tiles(bounds, 100.0)
    assert len(grid) == 6 * 6 and Tile(464_900.0, 2_865_800.0, 465_000.0, 2_865_900.0) in grid
    with pytest.raises(ValueError):
        tiles(bounds, 0.0)

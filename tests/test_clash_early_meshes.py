"""An incremental check reads the meshes it will likely test while it reads their rows (``EarlyMeshes``): what it
gets is what a read when asked gives, and a mesh it did not read ahead is still read."""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import pytest

from cim.clash.region import city_index
from cim.clash.source import EarlyMeshes, ElementSet, read_meshes
from cim.errors import StoreError
from cim.store import Store


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        np.array_equal(a[k][0], b[k][0]) and np.array_equal(a[k][1], b[k][1]) and a[k][2] == b[k][2] for k in a)


def test_meshes_read_ahead_are_those_read_when_asked_and_the_others_are_read_then(sample_city):
    store, _, _ = sample_city
    index = city_index(store)
    keys = index.keys
    assert len(keys) > 100 and len(index.sources) > 1  # several models: one scan each
    elements = ElementSet(sources=index.sources)
    elements.early = EarlyMeshes(index.sources, keys[::2])
    asked = [*keys, "zone:gas:1", "no-such-model/x"]  # a zone and an unknown model have no mesh to read
    got = elements.meshes(asked)
    assert len(got) == len(keys)
    assert _same(got, read_meshes(index.sources, keys))


def test_meshes_the_read_ahead_did_not_find_are_read_from_the_current_versions(sample_city):
    store, _, _ = sample_city
    index = city_index(store)
    keys = index.keys[:20]
    elsewhere = {m: replace(s, version=s.version + 1000) for m, s in index.sources.items()}  # no such rows
    elements = ElementSet(sources=index.sources)
    elements.early = EarlyMeshes(elsewhere, keys)
    assert _same(elements.meshes(keys), read_meshes(index.sources, keys))


def test_a_read_ahead_that_failed_fails_the_check_that_asks_for_its_meshes(sample_city, tmp_path):
    store, _, _ = sample_city
    index = city_index(store)
    empty = Store(tmp_path / "empty", store.crs)
    shutil.rmtree(tmp_path / "empty" / "meshes")  # no meshes table: its read raises
    elements = ElementSet(sources=index.sources)
    elements.early = EarlyMeshes({m: replace(s, store=empty) for m, s in index.sources.items()}, index.keys[:5])
    with pytest.raises(StoreError, match="no table 'meshes'"):
        elements.meshes(index.keys[:5])

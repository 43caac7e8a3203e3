"""The city benchmark's generator: georeferenced IFC models that open, sizes adding up, a parcels layer, a cache."""

from __future__ import annotations

import json

import ifcopenshell
import ifcopenshell.util.placement
import pyogrio
import pytest
from shapely.geometry import Point

from bench.city_gen import generate_city, sizes


def test_the_generated_city_is_georeferenced_ifc_adding_up_to_the_requested_elements_with_a_parcel_per_block(
        tmp_path):
    city = generate_city(3, 150, seed=3, root=tmp_path)
    files = sorted((city / "models").glob("*.ifc"))
    assert [f.stem for f in files] == ["b0000", "b0001", "b0002"]
    counts, origins, guids = [], set(), set()
    for path in files:
        model = ifcopenshell.open(str(path))
        assert model.schema == "IFC4"
        conversion = model.by_type("IfcMapConversion")[0]
        assert conversion.TargetCRS.Name == "EPSG:4549"
        origins.add((conversion.Eastings, conversion.Northings))
        elements = [e for e in model.by_type("IfcElement") if e.Representation is not None]
        assert all(e.ContainedInStructure for e in elements)  # every element in a storey
        counts.append(len(elements))
        guids.update(e.GlobalId for e in elements)
    assert sum(counts) == 150 and len(set(counts)) > 1  # sizes vary, the total is what was asked
    assert len(origins) == 3  # each model on its own block
    assert len(guids) == 150  # GlobalIds unique across the city
    layers = dict(pyogrio.list_layers(city / "parcels.gpkg"))
    assert "parcels" in layers
    parcels = pyogrio.read_dataframe(city / "parcels.gpkg", layer="parcels")
    assert parcels.crs.to_epsg() == 4549
    assert set(parcels["model_id"].dropna()) == {"b0000", "b0001", "b0002"} and len(parcels) == 4
    for e, n in origins:  # a building's local origin lies inside its own parcel
        assert parcels.geometry.contains(Point(e, n)).sum() == 1
    manifest = json.loads((city / "manifest.json").read_text())
    assert manifest["elements"] == 150 and [s["elements"] for s in manifest["specs"]] == counts


def test_a_second_generation_with_the_same_parameters_reuses_the_cached_city(tmp_path):
    first = generate_city(2, 20, seed=1, root=tmp_path, processes=1)
    stamp = (first / "manifest.json").stat().st_mtime_ns
    assert generate_city(2, 20, seed=1, root=tmp_path, processes=1) == first
    assert (first / "manifest.json").stat().st_mtime_ns == stamp
    assert generate_city(2, 21, seed=1, root=tmp_path, processes=1) != first


def test_model_sizes_are_reproducible_and_add_up_exactly():
    assert sizes(200, 1_000_000, 7) == sizes(200, 1_000_000, 7)
    assert sum(sizes(200, 1_000_000, 7)) == 1_000_000 and min(sizes(200, 1_000_000, 7)) > 1000
    with pytest.raises(ValueError):
        sizes(5, 3, 7)

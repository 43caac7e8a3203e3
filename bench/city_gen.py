"""A synthetic city for the city-scale benchmark: N georeferenced IFC4 buildings on a grid of blocks, and parcels.

    python -m bench.city_gen --models 200 --elements 1000000 [--seed 7]

Each model is one building of walls, columns, slabs, beams and pipes (``bench.genmodel``'s bodies), placed
on its own city block in EPSG:4549 through its own IfcMapConversion. Model sizes vary (seeded) around the
mean and add up exactly to the requested total. ``parcels.gpkg`` holds one parcel per block (the block's
land, the building on it) and some parcels without a building (parks, roads reserve), layer ``parcels``.
One pipe in ``CLASH_EVERY`` runs inside a wall, so the city clash check has clashes to find.

Generation runs on 2 processes and is cached under ``bench/out/city/<key>/`` (key: the parameters and
this generator's version); ``manifest.json`` is written last, so a folder without it is regenerated.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

CITY_CRS = "EPSG:4549"
ORIGIN_E, ORIGIN_N = 470_000.0, 2_870_000.0  # south-west corner of the grid, east of the sample district
BLOCK_M = 150.0  # block pitch: a generated building of any size (<= 100 m x 100 m) plus a road
PARCEL_MARGIN_M = 5.0  # a parcel is its block less half a road on each side
EXTRA_PARCELS_SHARE = 0.1  # parcels without a building, beyond the last block
CLASH_EVERY = 100  # one pipe in this many runs inside a wall (structure-vs-mep finds it)
GEN_VERSION = 2  # bump when the generated files change: the cache key changes with it
CACHE = Path(__file__).resolve().parent / "out" / "city"


@dataclass(frozen=True)
class ModelSpec:
    model_id: str
    index: int
    elements: int
    eastings: float
    northings: float


def sizes(n_models: int, total: int, seed: int) -> list[int]:
    """Model sizes between about 0.3x and 1.7x the mean, adding up exactly to ``total`` (each at least 1)."""
    if n_models < 1 or total < n_models:
        raise ValueError(f"need at least one element per model: {n_models} models, {total} elements")
    rng = random.Random(seed)
    weights = [rng.uniform(0.3, 1.7) for _ in range(n_models)]
    scale = (total - n_models) / sum(weights)
    out = [1 + int(w * scale) for w in weights]
    for i in range(total - sum(out)):  # what rounding down left, one element each to the first models
        out[i % n_models] += 1
    return out


def columns(n_blocks: int) -> int:
    return math.ceil(math.sqrt(n_blocks))


def block_origin(index: int, n_cols: int) -> tuple[float, float]:
    row, col = divmod(index, n_cols)
    return ORIGIN_E + col * BLOCK_M, ORIGIN_N + row * BLOCK_M


def specs(n_models: int, total: int, seed: int) -> list[ModelSpec]:
    n_cols = columns(n_models + extra_parcels(n_models))
    return [ModelSpec(f"b{i:04d}", i, n, *block_origin(i, n_cols)) for i, n in enumerate(sizes(n_models, total, seed))]


def extra_parcels(n_models: int) -> int:
    return max(1, round(n_models * EXTRA_PARCELS_SHARE))


def cache_dir(n_models: int, total: int, seed: int, root: Path = CACHE) -> Path:
    return root / f"m{n_models}_e{total}_s{seed}_g{GEN_VERSION}"


def _write_model(spec: ModelSpec, folder: str) -> str:
    """``bench.genmodel``'s building (same layout and bodies), written with plain ``create_entity`` calls.

    genmodel assigns storeys through ``ifcopenshell.api``, which re-derives every product's placement (two
    thirds of its time); here the containment and material relations are created directly.
    """
    import ifcopenshell.api
    import ifcopenshell.guid

    from bench.genmodel import KINDS, PER_STOREY, _axis, _body
    from tests.models import new_model

    def guid(i: int) -> str:
        return ifcopenshell.guid.compress(f"{((spec.index + 1) << 64) + i:032x}")

    # the building's local origin 10 m inside its block's corner: its cells (<= 100 m) stay inside the parcel
    f, ctx = new_model(eastings=spec.eastings + 2 * PARCEL_MARGIN_M, northings=spec.northings + 2 * PARCEL_MARGIN_M)
    ctx["building"].Name = f"Building {spec.model_id}"
    storey_placement = ctx["storey"].ObjectPlacement
    storeys, by_storey = [ctx["storey"]], [[]]
    by_kind: dict[str, list] = {k: [] for k in KINDS}
    side = math.ceil(math.sqrt(PER_STOREY / len(KINDS)))
    offsets = {"IfcWall": (0, 0, 0), "IfcColumn": (4.4, 0, 0), "IfcSlab": (0, 0.5, -0.2), "IfcBeam": (0, 4.5, 2.5),
               "IfcPipeSegment": (0.5, 2.5, 2.0)}
    for i in range(spec.elements):
        level = i // PER_STOREY
        if level >= len(storeys):
            storey = ifcopenshell.api.run("root.create_entity", f, ifc_class="IfcBuildingStorey", name=f"Level {level}")
            ifcopenshell.api.run("aggregate.assign_object", f, relating_object=ctx["building"], products=[storey])
            storeys.append(storey)
            by_storey.append([])
        kind = KINDS[i % len(KINDS)]
        cell = (i % PER_STOREY) // len(KINDS)
        dx, dy, dz = offsets[kind]
        if kind == "IfcPipeSegment" and cell % CLASH_EVERY == 0:
            dy = 0.1  # routed inside the cell's wall: a clash for the city check to find
        point = ((cell % side) * 5.0 + dx, (cell // side) * 5.0 + dy, level * 3.5 + dz)
        placement = f.createIfcLocalPlacement(storey_placement, _axis(f, point))
        el = f.create_entity(kind, GlobalId=guid(i), Name=f"{kind[3:]} {i}", ObjectPlacement=placement,
                             Representation=_body(f, ctx["body"], kind, i))
        by_storey[level].append(el)
        by_kind[kind].append(el)
    for level, elements in enumerate(by_storey):
        f.createIfcRelContainedInSpatialStructure(guid(spec.elements + level), None, None, None, elements,
                                                  storeys[level])
    for k, (kind, elements) in enumerate(by_kind.items()):
        if elements:
            material = f.createIfcMaterial(f"{kind[3:]} material")
            f.createIfcRelAssociatesMaterial(guid(spec.elements + len(storeys) + k), None, None, None, elements,
                                             material)
    path = Path(folder) / f"{spec.model_id}.ifc"
    f.write(str(path))
    return path.name


def write_parcels(path: Path, n_models: int) -> int:
    """One parcel per block (``P-<block>``, land use from the block's index) and the extra blocks after them."""
    import geopandas as gpd
    from shapely.geometry import box

    n_blocks = n_models + extra_parcels(n_models)
    n_cols = columns(n_blocks)
    uses = ("residential", "commercial", "office", "mixed")
    rows = []
    for i in range(n_blocks):
        e, n = block_origin(i, n_cols)
        m = PARCEL_MARGIN_M
        shape = box(e + m, n + m, e + BLOCK_M - m, n + BLOCK_M - m)
        built = i < n_models
        rows.append({"parcel_id": f"P-{i:04d}", "land_use": uses[i % len(uses)] if built else "green",
                     "model_id": f"b{i:04d}" if built else None, "area_m2": round(shape.area, 2), "geometry": shape})
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=CITY_CRS)
    path.unlink(missing_ok=True)
    frame.to_file(path, layer="parcels", driver="GPKG", engine="pyogrio", index=False)
    return len(rows)


def generate_city(n_models: int, total: int, seed: int = 7, *, root: Path = CACHE, processes: int = 2) -> Path:
    """The city's folder (``*.ifc``, ``parcels.gpkg``, ``manifest.json``), generated unless already cached."""
    folder = cache_dir(n_models, total, seed, root)
    manifest = folder / "manifest.json"
    if manifest.is_file():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "models").mkdir(parents=True)
    plan = specs(n_models, total, seed)
    started = time.perf_counter()
    # biggest first: the two processes finish together
    ordered = sorted(plan, key=lambda s: -s.elements)
    if processes > 1 and len(plan) > 1:
        with ProcessPoolExecutor(processes) as pool:
            list(pool.map(_write_model, ordered, [str(folder / "models")] * len(ordered), chunksize=1))
    else:
        for spec in ordered:
            _write_model(spec, str(folder / "models"))
    n_parcels = write_parcels(folder / "parcels.gpkg", n_models)
    manifest.write_text(json.dumps({
        "models": n_models, "elements": total, "seed": seed, "crs": CITY_CRS, "generator_version": GEN_VERSION,
        "parcels": n_parcels, "seconds": round(time.perf_counter() - started, 1),
        "bytes": sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()),
        "specs": [asdict(s) for s in plan]}, indent=1))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--elements", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    folder = generate_city(args.models, args.elements, args.seed)
    meta = json.loads((folder / "manifest.json").read_text())
    print(f"{folder}: {meta['models']} models, {meta['elements']} elements, {meta['parcels']} parcels, "
          f"{meta['bytes'] / 1e6:.1f} MB, generated in {meta['seconds']} s")


if __name__ == "__main__":
    main()

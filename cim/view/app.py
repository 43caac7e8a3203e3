"""`cim view` put together: check the front end and the store, export the tileset, then serve the page.

Each refusal (no front end, a port in use, not a store, an empty store, a bad --review file) is one CimError
line with the fix, found before the export starts where possible, so nothing waits minutes to fail.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cim.view.frontend import require_cesium, source_dir
from cim.view.server import ViewServer

TILES_CACHE = Path("exports") / "3dtiles"  # inside the store: the incremental export keeps it up to date


@dataclass
class Started:
    server: ViewServer
    tiles: Path
    export_summary: Any
    notes: list[str]


def tiles_cache(store_root: Path) -> Path:
    return store_root / TILES_CACHE


def start(store_path: Path, port: int, *, review: Path | None = None, ground_m: float = 0.0,
          say: Callable[[str], None] = print) -> Started:
    """Everything up to serving: returns the bound server with its mounts and API (call serve_forever)."""
    from cim.query import open_store_for_query
    from cim.store.location import require_folder
    from cim.view.data import CityData, require_meshes

    require_folder(store_path, "cim view (its 3D Tiles cache lives in the store folder)")
    cesium = require_cesium()
    store = open_store_for_query(store_path)  # not a store: one line naming what the folder holds
    server = ViewServer(port)  # bound now: a port in use fails before the export
    try:
        data = CityData(store, ground_m)
        require_meshes(data, store.root)
        review_data = None
        if review is not None:
            from cim.view.review import review_payload

            review_data = review_payload(review, data.crs, ground_m)
        say(f"exporting 3D Tiles into {tiles_cache(store.root)} (unchanged tiles are kept)...")
        summary = export_tiles(store.root, ground_m)
        server.mount("/cesium/", cesium)
        server.mount("/tiles/", tiles_cache(store.root))
        server.mount("/", source_dir())
        server.api = routes(data, review_data)
    except BaseException:
        server.server_close()
        raise
    notes = [review_data["note"]] if review_data and review_data.get("note") else []
    return Started(server, tiles_cache(store.root), summary, notes)


def export_tiles(store_root: Path, ground_m: float) -> Any:
    """The store's current city as 3D Tiles in the cache folder (incremental: changed tiles only); context
    buildings stand on the same ground as the GIS layers."""
    from cim.tiles import export_tileset

    return export_tileset(store_root, tiles_cache(store_root), ground_z=ground_m)


def routes(data, review: dict[str, Any] | None) -> dict[str, Callable[[dict[str, str]], Any]]:
    """The read-only API: GET /api/<name>?... -> JSON (None -> 404). Layers and clashes are read once."""
    layers = {name: data.layer_geojson(name) for name in data.config()["layers"]}
    clashes = data.clashes()
    by_element = data.clash_status_by_element(clashes)
    config = {**data.config(), "tileset": "/tiles/tileset.json", "review": "/api/review" if review else None}
    return {
        "config": lambda q: config,
        "layer": lambda q: layers.get(q["name"]),
        "clashes": lambda q: {"clashes": clashes, "by_element": by_element},
        "element": lambda q: data.element(q["model_id"], q["global_id"]),
        "centre": lambda q: data.element_centre(q["model_id"], q["global_id"]),
        "review": lambda q: review,
    }


def serve(started: Started) -> None:
    """Serve until Ctrl-C or SIGTERM, then close the socket (the process exits cleanly, code 0)."""
    def stop(signum, frame):  # turn SIGTERM into the same clean stop as Ctrl-C
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        started.server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        started.server.server_close()

"""`cim view`: the city in 3-D in a local web page (CesiumJS, the store's 3D Tiles, the city's GIS layers)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cim.errors import CimError


def view(
    store: Annotated[Path, typer.Option("--store", envvar="CIM_STORE", help="Store folder (env CIM_STORE).")]
    = Path("cim-data"),
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port on 127.0.0.1 to serve the page on.")]
    = 8700,
    review: Annotated[Path | None, typer.Option("--review", help="A review's report.json: show the submission in "
                                                "place with its failing checks.")] = None,
    config: Annotated[Path | None, typer.Option("--config", envvar="CIM_CONFIG", help="City config (ground "
                                                "elevation); default ./cim.toml, else sample_models/cim.toml.")]
    = None,
):
    """Serve the city in 3-D on http://127.0.0.1:PORT/ (Ctrl-C stops); pick an element for its data."""
    from cim.cli import _fail, say

    try:
        from cim.view.app import serve, start

        started = start(store, port, review=review, ground_m=_ground(config), say=say)
    except CimError as exc:
        _fail(exc)
    s = started.export_summary
    say(f"tiles: {started.tiles} ({s.n_tiles} tiles, {s.n_features} features; {s.n_written} written, "
        f"{s.n_reused} unchanged, {s.seconds:.1f} s)")
    for note in [*s.notes, *started.notes]:
        say(f"note: {note}")
    say(f"cim view: open {started.server.url} (Ctrl-C stops)")
    serve(started)


def _ground(config: Path | None) -> float:
    """The city's ground elevation (the GIS layers lie there); 0 without a config."""
    from cim.config import load_config

    path = config or next((p for p in (Path("cim.toml"), Path("sample_models/cim.toml")) if p.exists()), None)
    return load_config(path).ground_elevation_m if path is not None else 0.0

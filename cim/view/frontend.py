"""Where the viewer's files are, and whether `make install` put the front end (CesiumJS, three.js) there.

The viewer folder is ``viewer/`` at the repository root (``CIM_VIEWER_DIR`` overrides it, e.g. for an installed
copy). Its ``src/`` holds cim's own page; ``node_modules/`` what npm installed from the pinned package-lock.json.
"""

from __future__ import annotations

import os
from pathlib import Path

from cim.errors import CimError

INSTALL_HINT = "run make install (it needs Node.js 20 and npm) to install the viewer's front end"


class FrontEndMissing(CimError):
    stage = "view"


def viewer_dir() -> Path:
    override = os.environ.get("CIM_VIEWER_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[2] / "viewer"


def source_dir() -> Path:
    return viewer_dir() / "src"


def cesium_dir() -> Path:
    return viewer_dir() / "node_modules" / "cesium" / "Build" / "Cesium"


def three_module() -> Path:
    return viewer_dir() / "node_modules" / "three" / "build" / "three.module.min.js"


def require_cesium() -> Path:
    """The CesiumJS build folder; FrontEndMissing (one line with the fix) when it is not installed."""
    folder = cesium_dir()
    if not (folder / "Cesium.js").is_file() or not (source_dir() / "index.html").is_file():
        raise FrontEndMissing(folder, "the 3-D viewer's front end (CesiumJS) is not installed", INSTALL_HINT)
    return folder

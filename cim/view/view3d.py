"""view3d.html: the review's submission in its context in 3-D, as ONE file that opens from disk without a server.

three.js (from viewer/node_modules, pinned by package-lock.json) is inlined through an import map of ``data:``
URLs, the page's own script (viewer/src/view3d.js) inline, and the scene (:mod:`cim.view.scene`) as a JSON
block. Nothing is fetched: the report folder can be mailed or archived as it is.
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path
from typing import Any

from cim.view.frontend import source_dir, viewer_dir

NAME = "view3d.html"
SCENE_ID = "cim-scene"
_SCENE_RE = re.compile(r'<script type="application/json" id="cim-scene">(.*?)</script>', re.S)


def three_files() -> dict[str, Path] | None:
    """The three.js ES modules the page imports, or None when the front end is not installed."""
    root = viewer_dir() / "node_modules" / "three"
    files = {"three-core": root / "build" / "three.core.js", "three": root / "build" / "three.module.js",
             "three/addons/controls/OrbitControls.js": root / "examples" / "jsm" / "controls" / "OrbitControls.js"}
    return files if all(p.is_file() for p in files.values()) else None


def _data_url(text: str) -> str:
    return "data:text/javascript;base64," + base64.b64encode(text.encode("utf-8")).decode("ascii")


def import_map(files: dict[str, Path]) -> str:
    """An import map naming each module by a data: URL (three.module.js imports ./three.core.js by name)."""
    imports = {}
    for name, path in files.items():
        text = path.read_text(encoding="utf-8")
        if name == "three":
            text = text.replace("'./three.core.js'", "'three-core'").replace('"./three.core.js"', "'three-core'")
        imports[name] = _data_url(text)
    return json.dumps({"imports": imports})


def scene_block(scene: dict[str, Any]) -> str:
    """The scene as a JSON script block; ``</`` escaped so no value can close the script element."""
    text = json.dumps(scene, ensure_ascii=False, allow_nan=False, separators=(",", ":")).replace("</", "<\\/")
    return f'<script type="application/json" id="{SCENE_ID}">{text}</script>'


def render_view3d(scene: dict[str, Any], title: str) -> str | None:
    """The page's text, or None when three.js is not installed (the report is written without the 3-D view)."""
    files = three_files()
    template = source_dir() / "view3d.template.html"
    script = source_dir() / "view3d.js"
    if files is None or not template.is_file() or not script.is_file():
        return None
    parts = {"{{IMPORT_MAP}}": import_map(files).replace("</", "<\\/"),
             "{{SCENE}}": scene_block(scene), "{{SCRIPT}}": script.read_text(encoding="utf-8").replace("</", "<\\/")}
    page = template.read_text(encoding="utf-8").replace("{{TITLE}}", html.escape(title))  # before any data goes in
    for key, value in parts.items():
        page = page.replace(key, value, 1)
    return page


def write_view3d(scene: dict[str, Any] | None, folder: Path, review) -> Path | None:
    """Write view3d.html for ``review`` into ``folder``; None (nothing written) without a scene or three.js."""
    from cim.files import write_atomic

    if scene is None:
        return None
    scene = {**scene, "verdict": review.verdict}  # the scene was drawn before the verdict was reached
    title = f"{review.model_id}" + (f", parcel {review.parcel_id}" if review.parcel_id else "")
    page = render_view3d(scene, title)
    if page is None:
        return None
    return write_atomic(folder / NAME, page, what="3-D view")


def missing_note(review) -> str | None:
    """Why a review has no view3d.html, for its report: only the missing front end is worth a note."""
    if review.verdict == "error" or three_files() is not None:
        return None
    return "No 3-D view: the viewer's front end is not installed (run make install)."


def read_scene(page: Path) -> dict[str, Any] | None:
    """The scene a view3d.html carries (for `cim view --review`), or None when there is none."""
    try:
        match = _SCENE_RE.search(page.read_text(encoding="utf-8"))
    except OSError:
        return None
    if match is None:
        return None
    try:
        return json.loads(match.group(1))  # "<\\/" is JSON's own escape of "/"
    except ValueError:
        return None

"""Finding the inputs of a nightly run: the inbox folders of the city config, minus exclusions."""

from __future__ import annotations

from pathlib import Path

from cim.config import CityConfig
from cim.gis_files import is_gis_file
from cim.ingest.run import IFC_SUFFIXES
from cim.lifecycle.inbox import is_stage_file

IGNORED_PARTS = {".git", "__pycache__", ".venv", ".prefect"}


def discover(config: CityConfig) -> list[Path]:
    """IFC and GIS files under the inbox folders, sorted, excluded patterns left out.

    A shapefile's sidecar files (.shx, .dbf, .prj) are not inputs of their own; its .shp is.
    Files of other types are ignored here (a direct `cim ingest` of one is refused with a reason).
    """
    found: set[Path] = set()
    for folder in config.inbox:
        if folder.is_file():
            found.add(folder)
            continue
        for path in folder.rglob("*"):
            if not path.is_file() or IGNORED_PARTS & set(path.parts):
                continue
            if config.is_excluded(path) or is_stage_file(config, path):  # stage files go to the gates
                continue
            if path.suffix.lower() in IFC_SUFFIXES or is_gis_file(path):
                found.add(path)
    return sorted(found)

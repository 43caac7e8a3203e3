"""What a BCF topic says about where it comes from: the IFC file of each model, and the city's name.

BIMcollab, Solibri and Navisworks match a topic's ``Header/File`` entries (file name, IfcProject GlobalId)
to the models they have loaded, so each topic names the IFC file of every model its selected components
come from. The city's name (the config's ``[city] name``) is the BCF project name, so a BCF from the store
names the city, not the folder the store happens to live in.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from cim.clash.bcf_xml import HeaderFile
from cim.config import CityConfig, load_config, resolve_source
from cim.errors import CimError

DEFAULT_CITY_NAME = "city"
CONFIG_NAME = "cim.toml"
_CHUNK = 4 << 20
# a STEP instance line: #12=IFCPROJECT('0YvctVUKr0kugbFTf53O9L',...: the entity name and its GlobalId
_FACILITIES = (b"IFCBUILDING", b"IFCTUNNEL", b"IFCBRIDGE", b"IFCROAD", b"IFCRAILWAY", b"IFCMARINEFACILITY",
               b"IFCFACILITY")  # IfcBuilding and IFC4X3's facilities: what a viewer should focus on
_SPATIAL_ORDER = (*_FACILITIES, b"IFCSITE")  # best first; a site only when the file has no facility
_ROOT = re.compile(rb"#\d+\s*=\s*(IFCPROJECT|" + b"|".join(_SPATIAL_ORDER) + rb")\s*\(\s*'([0-9A-Za-z_$]{22})'",
                   re.IGNORECASE)


def ifc_roots(path: Path) -> tuple[str | None, str | None]:
    """(IfcProject GlobalId, GlobalId of the first building or other facility, else site) from the STEP text.

    A regular-expression scan in chunks stops as soon as the project and a facility are found, so it costs
    a few milliseconds for a model of any size, where opening it with IfcOpenShell would parse all of it.
    A file that cannot be read gives (None, None): the header then names the file only.
    """
    project: str | None = None
    spatial: dict[bytes, str] = {}
    tail = b""
    try:
        with Path(path).open("rb") as fh:
            while project is None or not any(e in spatial for e in _FACILITIES):
                chunk = fh.read(_CHUNK)
                if not chunk:
                    break
                text = tail + chunk
                for match in _ROOT.finditer(text):
                    entity, guid = match.group(1).upper(), match.group(2).decode()
                    if entity == b"IFCPROJECT":
                        project = project or guid
                    else:
                        spatial.setdefault(entity, guid)
                tail = text[-200:]  # an instance cut at the chunk's end is found whole in the next one
    except OSError:
        return None, None
    return project, next((spatial[e] for e in _SPATIAL_ORDER if e in spatial), None)


def model_files(store) -> dict[str, HeaderFile]:
    """model_id -> the IFC file its current version was ingested from, as a BCF header entry."""
    out: dict[str, HeaderFile] = {}
    for m in store.current_models().to_pylist():
        if m["kind"] != "ifc":
            continue
        path = resolve_source(m["source_path"], m.get("source_root"))
        project, spatial = ifc_roots(path)
        ingested = m["ingested_at"]
        if isinstance(ingested, datetime) and ingested.tzinfo is None:
            ingested = ingested.replace(tzinfo=UTC)
        out[m["model_id"]] = HeaderFile(filename=Path(m["source_path"]).name, date=ingested,
                                        reference=m["source_path"], ifc_project=project,
                                        ifc_spatial_structure_element=spatial)
    return out


def city_name(store, config: CityConfig | None) -> str:
    """The city's name: the config's, else that of the cim.toml beside the ingested files, else their folder's.

    Never the store folder's name: a store is often just ``cim-data``.
    """
    if config is not None:
        return config.name
    roots = sorted({m["source_root"] for m in store.current_models().to_pylist() if m.get("source_root")})
    for root in roots:
        candidate = Path(root) / CONFIG_NAME
        if candidate.is_file():
            try:
                return load_config(candidate).name
            except CimError:
                continue
    return Path(roots[0]).name if roots else DEFAULT_CITY_NAME

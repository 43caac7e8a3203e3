"""The demo city's IFC4X3 utility tunnel (综合管廊) under Binhai Avenue, K0+000 .. K1+000.

``write_tunnel(path)`` builds the whole model with ifcopenshell.api and writes it byte-identically on every run.
The parts live in ``tunnel_*`` modules; see sample_models/tunnel/README.md for what is modelled and which
GB 50838-2015 rules are broken on purpose.
"""

from __future__ import annotations

from pathlib import Path

import ifcopenshell

from cim.errors import TransientIOError
from cim.samples import tunnel_spec as spec
from cim.samples.tunnel_equipment import build_equipment
from cim.samples.tunnel_handover import Handover
from cim.samples.tunnel_ifc import Model, deterministic_guids
from cim.samples.tunnel_openings import build_openings
from cim.samples.tunnel_structure import build_spatial, build_structure
from cim.samples.tunnel_utilities import build_utilities

__all__ = ["build_tunnel", "write_tunnel"]


def build_tunnel() -> ifcopenshell.file:
    """The complete tunnel model in memory (deterministic GlobalIds, fixed header)."""
    with deterministic_guids():
        m = Model()
        spatial = build_spatial(m)
        handover = Handover(m)
        handover.assign([spatial.facility], spec.TUNNEL_OWNER, "OWNER")
        handover.assign([spatial.facility], spec.TUNNEL_OPERATOR, "BUILDINGOPERATOR")
        roof_slabs = build_structure(m, spatial)
        build_utilities(m, spatial, handover)
        build_equipment(m, spatial, handover)
        build_openings(m, spatial, handover, roof_slabs)
        spatial.flush(m)
        m.sort_relationships()
    return m.f


def write_tunnel(path: Path) -> None:
    """Write the tunnel model to ``path`` (parent folders are created)."""
    path = Path(path)
    model = build_tunnel()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        model.write(str(path))
    except OSError as exc:
        raise TransientIOError(path, f"cannot write the tunnel model: {exc}", "check the folder is writable") from exc

"""`cim cobie`: the COBie 2.4 handover workbook of any IFC model in the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cim.errors import CimError


def cobie(
    model_id: Annotated[str, typer.Argument(help="The model's model_id in the store.")],
    xlsx: Annotated[Path, typer.Option("--xlsx", help="The workbook to write (.xlsx).")],
    store: Annotated[Path, typer.Option("--store", envvar="CIM_STORE", help="Store folder (env CIM_STORE).")]
    = Path("cim-data"),
):
    """Write a COBie 2.4 workbook (all 19 sheets) of a model's current version; a tunnel analysed with
    `cim tunnel` gets its register (pipes, cables, compartments, findings) on top. Exit 2 on bad input."""
    from cim.cli import _fail, say
    from cim.cobie import export_cobie
    from cim.cobie.workbook import check_target
    from cim.store import Store
    from cim.tunnel.cobie import export_cobie as export_tunnel
    from cim.tunnel.cobie import has_register

    try:
        check_target(xlsx)
        opened = Store(store, create=False)
        path = (export_tunnel if has_register(opened, model_id) else export_cobie)(opened, model_id, xlsx)
    except CimError as exc:
        _fail(exc)
    say(f"COBie workbook: {path}")

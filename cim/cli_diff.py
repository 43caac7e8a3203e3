"""`cim diff`: what changed between two versions of a model, or between two IFC files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cim.errors import CimError


def diff(
    model: Annotated[str, typer.Argument(metavar="MODEL_ID|OLD.ifc", help="A model id in the store, or the older "
                                                                         "of two IFC files.")],
    new_file: Annotated[Path | None, typer.Argument(metavar="[NEW.ifc]", help="The newer IFC file (two-file "
                                                                              "mode).")] = None,
    from_version: Annotated[int | None, typer.Option("--from", help="Older version (default: the one before "
                                                                    "--to).")] = None,
    to_version: Annotated[int | None, typer.Option("--to", help="Newer version (default: the current one).")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Report folder (default diff/<model>-v<from>-v<to>)."
                                                 )] = None,
    store: Annotated[Path, typer.Option("--store", envvar="CIM_STORE", help="The city store.")] = Path("cim-data"),
    bcf: Annotated[Path | None, typer.Option("--bcf", help="Also write one BCF topic per changed element here "
                                                           "(.bcfzip).")] = None,
    record: Annotated[bool, typer.Option(help="Store the changes in the model_changes table (model mode).")] = True,
    config: Annotated[Path | None, typer.Option("--config", envvar="CIM_CONFIG", help="City config for two-file "
                                                "mode (default ./cim.toml, else sample_models/cim.toml).")] = None,
    crs: Annotated[str | None, typer.Option("--crs", help="City CRS for two-file mode (default: the config's)."
                                            )] = None,
    viewer: Annotated[str | None, typer.Option("--viewer", help="URL of a 3-D view; element ids in the report "
                                                                "link to URL#GlobalId.")] = None,
):
    """Compare two versions of a model (default: the previous and the current) or two IFC files: added, removed,
    moved, reshaped, properties changed and reclassified elements, quantity and clash deltas. Writes report.html,
    report.json and plan.svg. Exit 0 when compared, 2 when there is nothing to compare (one line says why)."""
    from cim.cli import _fail, say

    try:
        result, stored = _compare(model, new_file, from_version, to_version, store, record, config, crs)
        from cim.diff.report import default_folder, write_report

        folder = out_dir or default_folder(result)
        if folder.exists() and not folder.is_dir():
            raise CimError(folder, "--out names an existing file, not a folder", "pass a folder", stage="output")
        paths = write_report(result, folder, viewer)
        if bcf is not None:
            from cim.diff.bcf import write_diff_bcf

            paths.append(write_diff_bcf(result, bcf))
    except CimError as exc:
        _fail(exc)
    except OSError as exc:
        _fail(CimError(getattr(exc, "filename", None), f"cannot write the report: {exc.strerror or exc}",
                       "pass --out a folder you can write to", stage="output"))
    counts = ", ".join(f"{k} {v}" for k, v in result.counts.items())
    say(f"{result.model_id}: version {result.from_version} -> {result.to_version}: {counts}")
    if stored is not None:
        say(f"{stored} rows in model_changes")
    for path in paths:
        say(path)


def _compare(model: str, new_file: Path | None, from_version, to_version, store: Path, record: bool,
             config: Path | None, crs: str | None):
    """(Diff, rows stored or None): model mode against the store, or two-file mode in a scratch store."""
    from cim.diff import DiffError, compare_versions, record_changes
    from cim.store import Store

    old_path = Path(model)
    if new_file is None and old_path.suffix.lower() == ".ifc":
        raise DiffError(old_path, "one IFC file given: two-file mode needs the older and the newer file",
                        "run cim diff OLD.ifc NEW.ifc, or cim diff MODEL_ID for versions in the store")
    if new_file is not None:
        if from_version is not None or to_version is not None:
            raise DiffError(None, "--from/--to apply to a model id, not to two files",
                            "drop --from/--to, or diff a model id")
        from cim.config import load_config
        from cim.diff.files import check_same_schema, diff_files

        check_same_schema(old_path, new_file)  # one line, before the slow part
        cfg_path = config or next((p for p in (Path("cim.toml"), Path("sample_models/cim.toml")) if p.exists()), None)
        if cfg_path is None:
            raise DiffError(None, "no city config found for two-file mode", "pass --config cim.toml or --crs")
        return diff_files(old_path, new_file, load_config(cfg_path), crs, workers=2), None
    st = Store(store, create=False)
    result = compare_versions(st, model, from_version, to_version)
    return result, (record_changes(st, result) if record else None)

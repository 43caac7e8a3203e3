"""What a run leaves for operators: the run's log file, Prefect artifacts, the printed table, the alert."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

from prefect.artifacts import create_markdown_artifact, create_table_artifact
from rich.console import Console
from rich.table import Table

from cim.alerts import ALERTS_DIR
from cim.ingest.run import Outcome
from cim.runs import summary_markdown, summary_rows

LOG_NAME = "nightly.log"


def locations(store: str | Path) -> dict[str, Path]:
    """Where a run's outputs are, for the lines `make run` and `make serve` print."""
    root = Path(store).resolve()
    return {"store": root, "exports": root / "exports", "alerts": root / ALERTS_DIR, "log": root / "logs" / LOG_NAME}


@contextlib.contextmanager
def run_log(store: str | Path, loggers: list[logging.Logger]) -> Iterator[Path]:
    """Append the run's log lines (the flow's and the library's, debug included) to <store>/logs/nightly.log."""
    path = locations(store)["log"]
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield path
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        handler.close()


def publish(run: dict, outcomes: list[Outcome], extra: list[str]) -> None:
    """The run summary as Prefect artifacts (UI) and as a printed table (console, CI logs)."""
    markdown = summary_markdown(run, outcomes)
    if extra:
        markdown += "\n\n" + "\n".join(f"- {line}" for line in extra)
    create_markdown_artifact(markdown, key="cim-run-summary", description=run["status"])
    create_table_artifact(summary_rows(outcomes), key="cim-run-files", description="per-file outcome")
    table = Table("file", "result", "models", "versions", "rows", "seconds", "message",
                  title=f"{run['status']} in {run['duration_s']:.1f} s")
    for r in summary_rows(outcomes):
        table.add_row(Path(r["file"]).name, r["result"], r["models"], r["versions"], str(r["rows"]),
                      str(r["seconds"]), r["message"][:70])
    console = Console(width=None if sys.stdout.isatty() else 160)
    console.print(table)
    for line in extra:
        console.print(line, highlight=False)

"""What an IFC file's text alone tells, read by a helper process while this one parses the file.

The reference graph (``cim.ifc.integrity``), its depths, every entity's digest (``cim.ingest.file_digests``)
and the line index the next revision is compared with (``cim.ingest.line_index``) need only the file's
bytes, not IfcOpenShell's parse. Read in this process they came before the parse and after it, on one core,
while the other waited: at 50,000 elements 1.1 s before the workers could start and 1.5 s more while they
meshed. A forked helper reads them from the start instead; the graph is back before the parse is done with,
the digests and the index before the workers finish, and the helper's work falls mostly in the time this
process parses and indexes the file alone (a 10,000-element model's line index, 0.13 s, was read here while
the workers meshed, on a core they needed). If the helper dies (killed for memory), the same functions run
here: it only saves time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cim.ifc.integrity import ReferenceDepth, reference_depth, reference_edges
from cim.ifc.reader import file_schema
from cim.ingest.file_digests import FileDigests, file_digests
from cim.ingest.line_diff import with_roots
from cim.ingest.line_index import LineIndex, read_lines
from cim.isolated import ChildCall, ChildDied, start_in_child

log = logging.getLogger(__name__)


@dataclass
class Graph:
    """Every ``#n`` reference of the file (referring id, referred id), its entity count and depths."""

    src: np.ndarray
    dst: np.ndarray
    n_defined: int
    depth: ReferenceDepth


def read_text(path: str, progress: Callable[[object], None]) -> tuple[str, LineIndex | None]:
    """In the helper: the graph, then the digests (each sent as soon as it is known), then the line index
    and the schema it was read with (returned)."""
    graph = read_graph(path)
    progress(graph)
    progress(file_digests(path, graph.src, graph.dst, graph.n_defined, graph.depth))
    schema = file_schema(path)
    return schema, line_index(path, schema)


def line_index(path: str | Path, schema: str) -> LineIndex | None:
    """The file's line index without its geometry salt (the caller adds it), or None when the file is not
    laid out one entity per line."""
    lines = read_lines(path)
    return None if lines is None else with_roots(lines, schema)


@dataclass
class _Raised:
    """What the helper raised instead of an answer."""

    error: Exception


class FileText:
    """The helper reading ``path`` (a context manager: leaving it ends the helper if still at work)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._answers: list = []  # what the helper sent, in order: graph, digests, (schema, index)
        self._here: dict[int, object] = {}  # answers read here instead (the helper died or raised before them)
        self._child: ChildCall | None = start_in_child(read_text, self.path, path=self.path)

    def graph(self) -> Graph:
        return self._answer(0, lambda: read_graph(self.path))

    def digests(self) -> FileDigests | None:
        """The digests, or None when the file is not one entity per line. Raises what reading them raised."""
        graph = self.graph()
        return self._answer(1, lambda: file_digests(self.path, graph.src, graph.dst, graph.n_defined, graph.depth))

    def line_index(self, schema: str) -> LineIndex | None:
        """The line index read with ``schema`` (the parsed file's), without its salt; None when the file is
        not one entity per line. Raises what reading it raised."""
        read_with, index = self._answer(2, lambda: (schema, line_index(self.path, schema)))
        return index if read_with == schema else line_index(self.path, schema)

    def _answer(self, k: int, here: Callable):
        """The helper's ``k``-th answer, or ``here()`` once the helper has ended without it."""
        while self._child is not None and len(self._answers) <= k:
            try:
                self._answers.append(self._child.receive()[1])
            except ChildDied as exc:
                log.warning("%s: the process reading the file's text ended (%s); reading it here", self.path, exc)
                self.close()
            except Exception as exc:  # noqa: BLE001 - raised by the helper: that answer raises it, later ones are read here
                self._answers.append(_Raised(exc))
                self.close()
        if k < len(self._answers):
            if isinstance(self._answers[k], _Raised):
                raise self._answers[k].error
            return self._answers[k]
        if k not in self._here:
            self._here[k] = here()
        return self._here[k]

    def close(self) -> None:
        if self._child is not None:
            self._child.close()
            self._child = None

    def __enter__(self) -> FileText:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_graph(path: str | Path) -> Graph:
    """The file's reference graph and its depths, read here."""
    src, dst, n_defined = reference_edges(path)
    return Graph(src, dst, n_defined, reference_depth(src, dst))

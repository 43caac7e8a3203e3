"""What an IFC file's text alone tells, read by a helper process while this one parses the file.

The reference graph (``cim.ifc.integrity``), its depths and every entity's digest (``cim.ingest.file_digests``)
need only the file's bytes, not IfcOpenShell's parse. Read in this process they came before the parse and
after it, on one core, while the other waited: at 50,000 elements 1.1 s before the workers could start and
1.5 s more while they meshed. A forked helper reads them from the start instead; the graph is back before
the parse is done with, the digests before the workers finish. If the helper dies (killed for memory), the
same functions run here: it only saves time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cim.ifc.integrity import ReferenceDepth, reference_depth, reference_edges
from cim.ingest.file_digests import FileDigests, file_digests
from cim.isolated import ChildCall, ChildDied, start_in_child

log = logging.getLogger(__name__)


@dataclass
class Graph:
    """Every ``#n`` reference of the file (referring id, referred id), its entity count and depths."""

    src: np.ndarray
    dst: np.ndarray
    n_defined: int
    depth: ReferenceDepth


def read_text(path: str, progress: Callable[[Graph], None]) -> FileDigests | None:
    """In the helper: the graph first (sent as soon as it is known), then the digests (returned)."""
    graph = read_graph(path)
    progress(graph)
    return file_digests(path, graph.src, graph.dst, graph.n_defined, graph.depth)


class FileText:
    """The helper reading ``path`` (a context manager: leaving it ends the helper if still at work)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._graph: Graph | None = None
        self._digests: tuple[FileDigests | None] | None = None  # (digests,) once read: None is an answer
        self._child: ChildCall | None = start_in_child(read_text, self.path, path=self.path)

    def graph(self) -> Graph:
        if self._graph is None:
            self._graph = self._next(lambda: read_graph(self.path))
        return self._graph

    def digests(self) -> FileDigests | None:
        """The digests, or None when the file is not one entity per line. Raises what reading them raised."""
        if self._digests is None:
            graph = self.graph()
            self._digests = (self._next(lambda: file_digests(self.path, graph.src, graph.dst, graph.n_defined,
                                                             graph.depth)),)
        return self._digests[0]

    def _next(self, here: Callable):
        if self._child is not None:
            try:
                return self._child.receive()[1]
            except ChildDied as exc:
                log.warning("%s: the process reading the file's text ended (%s); reading it here", self.path, exc)
                self.close()
        return here()

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

"""A table of a commit that is still being computed when the commit starts writing."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import pyarrow as pa


class Pending:
    """A table of a ModelCommit still being computed in a thread of this process: ``Store.commit`` writes the
    other tables meanwhile and this one when it is done. Pickled (a commit sent to another process), it is
    its table."""

    def __init__(self, future: Future) -> None:
        self._future = future

    @classmethod
    def compute(cls, fn: Callable[..., pa.Table], *args) -> Pending:
        """``fn(*args)`` started in a thread of its own."""
        thread = ThreadPoolExecutor(1, thread_name_prefix="cim-pending")
        pending = cls(thread.submit(fn, *args))
        thread.shutdown(wait=False)
        return pending

    def result(self) -> pa.Table:
        return self._future.result()

    def __reduce__(self) -> tuple:
        return _table, (self.result(),)


def _table(table: pa.Table) -> pa.Table:
    return table

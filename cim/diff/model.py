"""What a diff between two versions of a model is: the ``Diff`` dataclass and the diff's error."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from cim.errors import CimError

CHANGE_CLASSES = ("added", "removed", "moved", "reshaped", "properties_changed", "reclassified")


class DiffError(CimError):
    """Nothing to diff, a version that does not exist, files that cannot be compared: exit 2, one line."""

    stage = "diff"


@dataclass
class Diff:
    """The changes from ``from_version`` to ``to_version`` of ``model_id``.

    ``changes`` are ``model_changes`` rows (see schemas/tables_diff.toml): one per added, removed, moved,
    reshaped or reclassified element and one per changed property. ``counts`` counts *elements* per change
    class (an element both moved and re-propertied counts in both), plus ``unchanged``. ``shapes`` keeps the
    2-D footprints (WKB) of the changed elements so a report can draw them after a scratch store is gone.
    """

    model_id: str
    from_version: int
    to_version: int
    changes: list[dict] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    quantity_deltas: list[dict] = field(default_factory=list)
    clash_deltas: dict[str, list] = field(default_factory=lambda: {"new": [], "resolved": []})
    notes: list[str] = field(default_factory=list)
    shapes: dict[str, bytes] = field(default_factory=dict)
    crs: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict:
        """Everything but the footprints' bytes, ready for json.dumps."""
        data = asdict(self)
        data.pop("shapes")
        return data

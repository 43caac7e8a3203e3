"""Version diff: what changed between two versions of a model (cim diff; table model_changes)."""

from cim.diff.compare import compare_versions, record_changes
from cim.diff.model import CHANGE_CLASSES, Diff, DiffError

__all__ = ["CHANGE_CLASSES", "Diff", "DiffError", "compare_versions", "record_changes"]

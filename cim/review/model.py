"""The review's result: one structure that the HTML report, report.json and the exit code all read."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PASS, FAIL, NOT_APPLICABLE = "pass", "fail", "not_applicable"

# Check ids used by the sample city's expected outcomes (sample_models/submissions/expected.toml).
CHECK_IDS = ("opens", "schema", "ids", "georef", "georef_inside_city", "georef_site_latlon",
             "inside_parcel", "setback", "red_line_setback", "height", "far", "coverage",
             "overlap_existing", "tunnel_protection", "pipelines", "internal_clash")


@dataclass
class CheckResult:
    """One planning condition: what was measured, what is allowed, and whether it passes."""

    check_id: str  # one of CHECK_IDS (others allowed for extensions)
    title: str  # human title, e.g. "Building height"
    status: str  # pass | fail | not_applicable
    measured: float | str | None = None
    allowed: float | str | None = None
    unit: str | None = None  # m, m2, ratio, count...
    comparison: str | None = None  # "<=", ">=", "==", "none": how measured is compared with allowed
    message: str = ""  # one sentence a planner can read, e.g. "Height 50.4 m exceeds the 45 m limit"
    details: list[dict[str, Any]] = field(default_factory=list)  # e.g. failing IDS specs, clashing elements


@dataclass
class ClashItem:
    """One clash found by the review (internal, or against a city layer), for the report's list."""

    clash_id: str
    rule: str
    mode: str
    severity: str
    a_global_id: str
    a_class: str
    a_name: str | None
    b_global_id: str | None  # None for a city feature without a GlobalId
    b_class: str
    b_name: str | None
    b_model: str  # model id or "layer:<table>"
    storey: str | None
    depth_m: float | None
    distance_m: float | None
    x: float  # clash point, city CRS
    y: float
    z: float
    chainage: str | None = None  # along the utility tunnel, e.g. K0+200.0
    check_id: str = "internal_clash"  # which check it belongs to


@dataclass
class SitePlan:
    """Geometries for the site-plan picture, as WKB in the city CRS (None when unknown)."""

    parcel: bytes | None = None
    setback_line: bytes | None = None  # the parcel shrunk by the minimum setback
    red_lines: list[bytes] = field(default_factory=list)
    footprint: bytes | None = None  # above-ground footprint of the submission
    basement: bytes | None = None  # below-ground outline, when it differs
    neighbours: list[bytes] = field(default_factory=list)
    tunnel: bytes | None = None
    protection_zone: bytes | None = None
    pipelines: list[bytes] = field(default_factory=list)
    clash_points: list[tuple[float, float, str]] = field(default_factory=list)  # x, y, label


@dataclass
class Review:
    """Everything one review found. ``exit_code``: 0 all pass, 1 some fail, 2 could not be reviewed."""

    model_path: str
    model_id: str | None
    verdict: str  # pass | fail | error
    exit_code: int
    reason: str | None = None  # why the model could not be reviewed (verdict error)
    parcel_id: str | None = None
    crs: str | None = None
    checks: list[CheckResult] = field(default_factory=list)
    clashes: list[ClashItem] = field(default_factory=list)
    quantities: dict[str, Any] = field(default_factory=dict)  # gfa_per_storey, counts, main
    site_plan: SitePlan | None = None
    timings: dict[str, float] = field(default_factory=dict)  # step -> seconds
    revision: dict[str, Any] | None = None  # the city building this revises (cim.review.revision), else None
    generated_at: str = ""  # ISO 8601 UTC
    code_version: str = ""

    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == FAIL]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

"""The city config (cim.toml): read once at the edge and passed down as values."""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from cim.errors import ConfigError
from cim.files import name_problem

PHASES = ("plan", "build", "manage")
# [ingest] keys (city-wide, and per model in [models."file.ifc"]): when an IFC file counts as damaged.
INTEGRITY_DEFAULTS = {"max_unmeshed_share": 0.5, "max_damaged_share": 0.0}
DEFAULT_CRON = "0 2 * * *"  # 02:00 every night, in the schedule's time zone
DEFAULT_TIMEZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class ScheduleConfig:
    """When the nightly run fires (``[schedule]``): a cron line read in an IANA time zone, not the server's."""

    cron: str = DEFAULT_CRON
    timezone: str = DEFAULT_TIMEZONE
    late_after_minutes: float = 60.0  # a scheduled time with no run started within this is reported as missed


@dataclass(frozen=True)
class AlertsConfig:
    """Where a run that needs attention is reported (``[alerts]``); a file in <store>/alerts/ is always written."""

    webhook_url: str | None = None  # POSTed the run summary as JSON
    timeout_s: float = 10.0


@dataclass(frozen=True)
class RuntimeConfig:
    """Where the heavy work runs (``[runtime]``): this machine's processes, or a Dask cluster."""

    dask_address: str | None = None  # e.g. "tcp://10.0.0.5:8786"; --cluster overrides it


@dataclass(frozen=True)
class ClashConfig:
    """``[clash]``: how the city clash check is cut into tasks."""

    tile_size: float | None = None  # metres; 0: never by tiles; None: by tiles above cim.clash.run.TILED_ABOVE


# [lifecycle] completion tolerances (as-built minus approved plan) and the handover threshold.
LIFECYCLE_TOLERANCES = {"height_m": 0.3, "footprint_share": 0.01, "setback_m": 0.3, "gfa_share": 0.01,
                        "far": 0.05, "coverage": 0.01}


@dataclass(frozen=True)
class LifecycleConfig:
    """Stage gates (``[lifecycle]``): how far an as-built may deviate from its approved plan, how complete its
    asset data must be for handover, and an optional inbox with one folder per stage for the nightly flow."""

    tolerances: dict = field(default_factory=lambda: dict(LIFECYCLE_TOLERANCES))
    handover_min_completeness: float = 0.95
    inbox: Path | None = None  # <inbox>/design/<model_id>.ifc, <inbox>/as_built/..., <inbox>/handover/...


@dataclass(frozen=True)
class ModelSettings:
    """How one input file is ingested."""

    model_id: str | None = None  # None: the file stem (IFC) or the layer names (GIS)
    phase: str = "manage"
    placement: dict | None = None  # for IFC models without LoGeoRef 50
    crs: str | None = None  # for GIS sources without a CRS
    layers: tuple[str, ...] | None = None  # GIS: which layers of a multi-layer source
    max_unmeshed_share: float = INTEGRITY_DEFAULTS["max_unmeshed_share"]  # IFC: see schemas/tables.toml
    max_damaged_share: float = INTEGRITY_DEFAULTS["max_damaged_share"]

    def fingerprint(self, city_crs: str) -> str:
        fields = {"crs": city_crs, "model_id": self.model_id, "phase": self.phase,
                  "placement": self.placement, "layer_crs": self.crs, "layers": self.layers}
        # integrity limits count only when changed, so stores written before they existed stay unchanged
        fields |= {k: getattr(self, k) for k, v in INTEGRITY_DEFAULTS.items() if getattr(self, k) != v}
        payload = json.dumps(fields, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class CityConfig:
    path: Path | None
    name: str
    crs: str
    height_datum: str | None = None
    ground_elevation_m: float = 0.0
    default_phase: str = "manage"
    inbox: tuple[Path, ...] = ()
    exclude: tuple[str, ...] = ()
    models: dict[str, dict] = field(default_factory=dict)  # relative path -> options
    gis: dict[str, dict] = field(default_factory=dict)
    ingest: dict = field(default_factory=dict)  # [ingest]: integrity limits for every IFC model
    schedule: ScheduleConfig = ScheduleConfig()
    alerts: AlertsConfig = AlertsConfig()
    lifecycle: LifecycleConfig = LifecycleConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    clash: ClashConfig = ClashConfig()

    @property
    def root(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def scratch(self, file: Path, model_id: str | None = None) -> CityConfig:
        """This city's settings for a file checked outside the inbox: plan phase, the given model_id (else the
        file stem), no placement from the config."""
        models = {**self.models, file.name: {"model_id": model_id, "phase": "plan"}} if model_id else self.models
        return dataclasses.replace(self, path=None, default_phase="plan", models=models)

    def relative(self, file: Path) -> str:
        try:
            return file.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return file.name

    def is_excluded(self, file: Path) -> bool:
        rel = self.relative(file)
        return any(fnmatch.fnmatch(rel, pattern) for pattern in self.exclude)

    def settings_for(self, file: Path, kind: str) -> ModelSettings:
        rel = self.relative(file)
        table = self.models if kind == "ifc" else self.gis
        opts = table.get(rel) or table.get(file.name) or {}
        phase = opts.get("phase", self.default_phase)
        if phase not in PHASES:
            raise ConfigError(self.path, f"phase {phase!r} for {rel} is not one of {', '.join(PHASES)}")
        layers = opts.get("layers")
        limits = {k: _share(self.path, k, opts.get(k, self.ingest.get(k, v))) for k, v in INTEGRITY_DEFAULTS.items()}
        return ModelSettings(model_id=opts.get("model_id"), phase=phase, placement=opts.get("placement"),
                             crs=opts.get("crs"), layers=tuple(layers) if layers else None, **limits)


def _share(path: Path | None, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ConfigError(path, f"{key} = {value!r} is not a share between 0 and 1",
                          f"set {key} in [ingest] of cim.toml to a number such as 0.5")
    return float(value)


def _check_model_ids(path: Path, models: dict) -> None:
    """A model_id names export and report files (<model_id>_quantities.xlsx): it must be one plain name."""
    for rel, opts in models.items():
        if not isinstance(opts, dict) or "model_id" not in opts:
            continue
        value = opts["model_id"]
        problem = "is not text" if not isinstance(value, str) else name_problem(value)
        if problem is None and ".." in value:
            problem = "contains '..'"
        if problem:
            raise ConfigError(path, f"[models.{json.dumps(rel, ensure_ascii=False)}] model_id {value!r} {problem}",
                              "use one plain name of letters, digits, '-', '_' and '.', e.g. model_id = \"tower-a\"")


def source_root(file: str | Path, source_path: str) -> str | None:
    """The absolute folder ``source_path`` (as recorded in ``models``) is relative to, so any command run from
    any working directory finds ``file`` again; None when ``source_path`` is absolute.

    ``source_path`` is the path relative to the config's folder (or the file name for a file outside it, or
    the path as given without a config); the root is whatever folder joins with it to the file."""
    if Path(source_path).is_absolute():
        return None
    target = Path(file).resolve()
    root = target
    for _ in Path(source_path).parts:
        root = root.parent
    return str(root) if (root / source_path).resolve() == target else None


def resolve_source(source_path: str, root: str | None) -> Path:
    """The file a ``models`` row was ingested from: ``source_root / source_path``, the same way everywhere.

    Rows written before source_root existed have none: their path is taken as given (relative to the
    working directory)."""
    path = Path(source_path)
    if path.is_absolute() or not root:
        return path
    return Path(root) / path


def require_metre_crs(crs: str, where: str | Path | None = None) -> None:
    """Refuse a city CRS whose axes are not in metres (e.g. US State Plane feet), naming the metre CRS to use."""
    from cim.georef.crs import city_crs_problem

    problem = city_crs_problem(crs)
    if problem:
        raise ConfigError(where, *problem)


def load_config(path: str | Path) -> CityConfig:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(path, "city config not found", "pass --config path/to/cim.toml")
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, f"not valid TOML: {exc}", "fix the syntax at the position given") from exc
    city = doc.get("city") or {}
    if "crs" not in city:
        raise ConfigError(path, "[city] crs is missing", 'add crs = "EPSG:4549" (the city\'s projected CRS)')
    require_metre_crs(city["crs"], path)
    default_phase = city.get("default_phase", "manage")
    if default_phase not in PHASES:
        raise ConfigError(path, f"default_phase {default_phase!r} is not one of {', '.join(PHASES)}")
    _check_model_ids(path, doc.get("models") or {})
    inbox = city.get("inbox", ["."])
    inbox = [inbox] if isinstance(inbox, str) else inbox
    return CityConfig(
        path=path,
        name=city.get("name", path.parent.name),
        crs=city["crs"],
        height_datum=city.get("height_datum"),
        ground_elevation_m=float(city.get("ground_elevation_m", 0.0)),
        default_phase=default_phase,
        inbox=tuple((path.parent / p) for p in inbox),
        exclude=tuple(city.get("exclude", [])),
        models=doc.get("models", {}),
        gis=doc.get("gis", {}),
        ingest=doc.get("ingest", {}),
        schedule=_schedule(path, doc.get("schedule") or {}),
        alerts=_alerts(path, doc.get("alerts") or {}),
        lifecycle=_lifecycle(path, doc.get("lifecycle") or {}),
        runtime=_runtime(path, doc.get("runtime") or {}),
        clash=_clash(path, doc.get("clash") or {}),
    )


def _clash(path: Path, table: dict) -> ClashConfig:
    unknown = sorted(set(table) - {"tile_size"})
    if unknown:
        raise ConfigError(path, f"[clash] has unknown keys {', '.join(unknown)}", "use tile_size")
    size = table.get("tile_size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int | float) or size < 0):
        raise ConfigError(path, f"[clash] tile_size {size!r} is not a size in metres",
                          "e.g. tile_size = 500 (0: never by tiles)")
    return ClashConfig(tile_size=None if size is None else float(size))


def _runtime(path: Path, table: dict) -> RuntimeConfig:
    unknown = sorted(set(table) - {"dask_address"})
    if unknown:
        raise ConfigError(path, f"[runtime] has unknown keys {', '.join(unknown)}", "use dask_address")
    address = table.get("dask_address") or None
    if address is not None and not (isinstance(address, str) and "://" in address):
        raise ConfigError(path, f"[runtime] dask_address {address!r} is not a Dask scheduler address",
                          'e.g. dask_address = "tcp://10.0.0.5:8786"')
    return RuntimeConfig(dask_address=address)


def _lifecycle(path: Path, table: dict) -> LifecycleConfig:
    """``[lifecycle]``: every tolerance a non-negative number, the threshold a share; unknown keys refused."""
    known = {*LIFECYCLE_TOLERANCES, "handover_min_completeness", "inbox"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(path, f"[lifecycle] has unknown keys {', '.join(unknown)}",
                          f"use {', '.join(sorted(known))}")
    tolerances = {}
    for key, default in LIFECYCLE_TOLERANCES.items():
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(path, f"[lifecycle] {key} = {value!r} is not a non-negative number",
                              f"e.g. {key} = {default}")
        tolerances[key] = float(value)
    threshold = table.get("handover_min_completeness", 0.95)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0.0 <= threshold <= 1.0:
        raise ConfigError(path, f"[lifecycle] handover_min_completeness = {threshold!r} is not a share between 0 "
                                "and 1", "e.g. handover_min_completeness = 0.95")
    inbox = table.get("inbox")
    if inbox is not None and not isinstance(inbox, str):
        raise ConfigError(path, f"[lifecycle] inbox = {inbox!r} is not a folder name", 'e.g. inbox = "stages"')
    return LifecycleConfig(tolerances=tolerances,
                           handover_min_completeness=float(threshold),
                           inbox=None if inbox is None else path.parent / inbox)


def _schedule(path: Path, table: dict) -> ScheduleConfig:
    """``[schedule]``, checked here so a typo is one line at start-up, not a scheduler that never fires."""
    cron = str(table.get("cron", DEFAULT_CRON))
    zone = str(table.get("timezone", DEFAULT_TIMEZONE))
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(path, f"[schedule] timezone {zone!r} is not a known time zone",
                          'use an IANA name such as "Asia/Shanghai" or "UTC"') from exc
    try:
        CronSim(cron, datetime.now(tz))
    except CronSimError as exc:
        raise ConfigError(path, f"[schedule] cron {cron!r} is not a valid cron line: {exc}",
                          'use five fields: minute hour day month weekday, e.g. "0 2 * * *"') from exc
    late = table.get("late_after_minutes", 60.0)
    if not isinstance(late, int | float) or late <= 0:
        raise ConfigError(path, f"[schedule] late_after_minutes {late!r} is not a positive number", "e.g. 60")
    return ScheduleConfig(cron=cron, timezone=zone, late_after_minutes=float(late))


def _alerts(path: Path, table: dict) -> AlertsConfig:
    url = table.get("webhook_url") or None
    if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        raise ConfigError(path, f"[alerts] webhook_url {url!r} is not an http(s) URL",
                          'e.g. webhook_url = "https://chat.example.org/hooks/cim"')
    timeout = table.get("timeout_s", 10.0)
    if not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError(path, f"[alerts] timeout_s {timeout!r} is not a positive number", "e.g. 10")
    return AlertsConfig(webhook_url=url, timeout_s=float(timeout))


def default_config(crs: str, phase: str = "manage") -> CityConfig:
    """For `cim ingest` without a config file: one CRS, one phase for everything."""
    if phase not in PHASES:
        raise ConfigError(None, f"phase {phase!r} is not one of {', '.join(PHASES)}")
    require_metre_crs(crs)
    return CityConfig(path=None, name="city", crs=crs, default_phase=phase)

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

PHASES = ("plan", "build", "manage")
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
class ModelSettings:
    """How one input file is ingested."""

    model_id: str | None = None  # None: the file stem (IFC) or the layer names (GIS)
    phase: str = "manage"
    placement: dict | None = None  # for IFC models without LoGeoRef 50
    crs: str | None = None  # for GIS sources without a CRS
    layers: tuple[str, ...] | None = None  # GIS: which layers of a multi-layer source

    def fingerprint(self, city_crs: str) -> str:
        payload = json.dumps({"crs": city_crs, "model_id": self.model_id, "phase": self.phase,
                              "placement": self.placement, "layer_crs": self.crs, "layers": self.layers},
                             sort_keys=True)
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
    schedule: ScheduleConfig = ScheduleConfig()
    alerts: AlertsConfig = AlertsConfig()

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
        return ModelSettings(model_id=opts.get("model_id"), phase=phase, placement=opts.get("placement"),
                             crs=opts.get("crs"), layers=tuple(layers) if layers else None)


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
    default_phase = city.get("default_phase", "manage")
    if default_phase not in PHASES:
        raise ConfigError(path, f"default_phase {default_phase!r} is not one of {', '.join(PHASES)}")
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
        schedule=_schedule(path, doc.get("schedule") or {}),
        alerts=_alerts(path, doc.get("alerts") or {}),
    )


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
    return CityConfig(path=None, name="city", crs=crs, default_phase=phase)

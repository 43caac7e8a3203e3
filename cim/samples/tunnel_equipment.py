"""Monitoring and service equipment per fire compartment: sensors, cameras, fans, sump pumps and lights.

Everything here sits on the alignment through IfcLinearPlacement (DistanceAlong = chainage) and reuses its
type's mapped body. The three deliberate GB 50838 breaks in ``tunnel_spec`` are honoured here.
"""

from __future__ import annotations

from dataclasses import dataclass

from cim.samples import tunnel_spec as spec
from cim.samples.tunnel_handover import Handover, Product
from cim.samples.tunnel_ifc import Entity, Model
from cim.samples.tunnel_structure import Spatial, fire_name


@dataclass(frozen=True)
class Kind:
    """One kind of device: its IFC class and type, body size (x, y, z) and monitoring data."""

    key: str
    ifc_class: str
    predefined: str
    type_name: str
    size: tuple[float, float, float]
    product: Product
    quantity: str = ""
    unit: str = ""
    alarm_low: float | None = None
    alarm_high: float | None = None
    gas: str = ""


_SENSOR = Product("Hangzhou Sensing (demo)", "Tunnel sensor series 3", "HZS-3", 2, 10, 6)
KINDS = {
    "TS": Kind(
        "TS",
        "IfcSensor",
        "TEMPERATURESENSOR",
        "Air temperature sensor",
        (0.12, 0.12, 0.1),
        _SENSOR,
        "air temperature",
        "degC",
        None,
        40.0,
    ),
    "HS": Kind(
        "HS",
        "IfcSensor",
        "HUMIDITYSENSOR",
        "Relative humidity sensor",
        (0.12, 0.12, 0.1),
        _SENSOR,
        "relative humidity",
        "%RH",
        None,
        85.0,
    ),
    "O2": Kind(
        "O2",
        "IfcSensor",
        "GASSENSOR",
        "Oxygen sensor",
        (0.15, 0.1, 0.2),
        _SENSOR,
        "oxygen concentration",
        "%vol",
        19.5,
        23.5,
        "O2",
    ),
    "CH4": Kind(
        "CH4",
        "IfcSensor",
        "GASSENSOR",
        "Methane sensor (explosion-proof)",
        (0.15, 0.1, 0.2),
        _SENSOR,
        "methane concentration",
        "%LEL",
        None,
        20.0,
        "CH4",
    ),
    "LS": Kind(
        "LS",
        "IfcSensor",
        "LEVELSENSOR",
        "Sump level sensor",
        (0.1, 0.1, 0.3),
        _SENSOR,
        "sump water level",
        "m",
        0.2,
        0.8,
    ),
    "CAM": Kind(
        "CAM",
        "IfcAudioVisualAppliance",
        "CAMERA",
        "IP dome camera",
        (0.2, 0.2, 0.2),
        Product("Hikvision (demo)", "IR dome camera 4MP", "HK-DC4", 3, 8, 6),
    ),
    "FAN": Kind(
        "FAN",
        "IfcFan",
        "TUBEAXIAL",
        "Tube-axial jet fan",
        (0.8, 0.8, 0.8),
        Product("Zhejiang Shangfeng (demo)", "SDS-8 tube axial fan", "ZSF-SDS8", 2, 15, 6),
    ),
    "PMP": Kind(
        "PMP",
        "IfcPump",
        "SUMPPUMP",
        "Submersible sump pump",
        (0.4, 0.4, 0.6),
        Product("Shanghai Kaiquan (demo)", "WQ 15-15 sump pump", "SKQ-WQ15", 2, 10, 6),
    ),
    "LT": Kind(
        "LT",
        "IfcLightFixture",
        "SECURITYLIGHTING",
        "LED tunnel luminaire",
        (0.6, 0.1, 0.08),
        Product("Opple (demo)", "LED 18 W IP65", "OPL-18", 3, 10, 12),
    ),
}
_CLASSIFICATION = {"IfcSensor": ("Pr_80_75_80", "Sensors"), "IfcAudioVisualAppliance": ("Pr_75_50_11", "Cameras")}


class Equipment:
    """Collects devices per kind so types, psets and containment are written in a few batch calls."""

    def __init__(self, m: Model, s: Spatial, h: Handover) -> None:
        self.m, self.s, self.h = m, s, h
        self.devices: dict[str, list[Entity]] = {k: [] for k in KINDS}

    def add(self, kind: str, comp: str, fc: int, n: int, chainage: float, y: float, z: float) -> Entity:
        k = KINDS[kind]
        label = {
            "TS": "temperature sensor",
            "HS": "humidity sensor",
            "O2": "O2 sensor",
            "CH4": "CH4 sensor",
            "LS": "sump level sensor",
            "CAM": "camera",
            "FAN": ("supply fan", "exhaust fan")[n - 1],
            "PMP": "sump pump",
            "LT": "light",
        }[kind]
        suffix = f" {n}" if kind in ("TS", "CH4", "CAM") else ""
        if kind == "LT":
            suffix = f" {spec.chainage_label(chainage)}"
        name = f"{fire_name(comp, fc)} {label}{suffix}"
        el = self.m.product(
            k.ifc_class,
            name,
            k.predefined,
            Tag=f"{fire_name(comp, fc)}-{kind}-{n:02d}" if kind != "LT" else f"{comp}-LT-{int(chainage):04d}",
        )
        el.ObjectPlacement = self.m.linear_placement(chainage, y, z)
        self.s.contain(self.s.fire[comp][fc], el)
        self.devices[kind].append(el)
        if k.quantity:
            self.m.pset(
                [el],
                "Pset_CimMonitoringPoint",
                {
                    "MonitoringPointId": f"BHT-{fire_name(comp, fc)}-{kind}-{n:02d}",
                    "MeasuredQuantity": k.quantity,
                    "Unit": k.unit,
                    "AlarmLow": k.alarm_low,
                    "AlarmHigh": k.alarm_high,
                    "GasDetected": k.gas or None,
                    "Chainage": float(chainage),
                    "FireCompartment": fire_name(comp, fc),
                },
            )
        return el

    def finish(self) -> None:
        """Types with mapped bodies, manufacturer and handover data, owner/operator, classification."""
        for key, kind in KINDS.items():
            devices = self.devices[key]
            if not devices:
                continue
            dx, dy, dz = kind.size
            body = self.m.box(dx, dy, dz)
            t = self.m.element_type(f"{kind.ifc_class}Type", kind.type_name, kind.predefined, body)
            self.h.type_data(t, kind.product)
            if kind.gas:
                self.m.pset([t], "Pset_SensorTypeGasSensor", {"GasDetected": kind.gas})
            if kind.predefined == "TEMPERATURESENSOR":
                self.m.pset([t], "Pset_SensorTypeTemperatureSensor", {"SetPointTemperature": 273.15 + 40.0})
            self.m.assign_type(t, devices)
            self.h.occurrences(devices, kind.product, spec.TUNNEL_OWNER, spec.TUNNEL_OPERATOR, "2025-08-01", key)
            if kind.ifc_class in _CLASSIFICATION:
                self.h.classify(devices, *_CLASSIFICATION[kind.ifc_class])


def build_equipment(m: Model, s: Spatial, h: Handover) -> dict[str, list[Entity]]:
    """Place every device of every fire compartment; returns the devices by kind key."""
    eq = Equipment(m, s, h)
    ceiling = spec.INNER_TOP_Z - 0.25
    floor = spec.INNER_BOTTOM_Z
    for comp in spec.COMPARTMENTS:
        y = spec.WALKWAY_Y[comp.key]
        for i, (a, b) in enumerate(spec.fire_ranges(comp)):
            length = b - a
            eq.add("TS", comp.key, i, 1, a + length / 3, y, ceiling)
            eq.add("TS", comp.key, i, 2, a + 2 * length / 3, y, ceiling)
            eq.add("HS", comp.key, i, 1, a + length / 2 + 5, y, ceiling)
            eq.add("O2", comp.key, i, 1, a + 20, y, floor + 1.5)
            if comp.kind == "gas" and (comp.key, i) != spec.NO_CH4_FIRE_COMPARTMENT:
                eq.add("CH4", comp.key, i, 1, a + length / 4, y, ceiling)
                eq.add("CH4", comp.key, i, 2, a + 3 * length / 4, y, ceiling)
            if (comp.key, i) != spec.NO_CAMERA_FIRE_COMPARTMENT:
                cam_y = y + spec.CAMERA_OFFSET_Y
                eq.add("CAM", comp.key, i, 1, a + 10, cam_y, ceiling)
                eq.add("CAM", comp.key, i, 2, a + length / 2 + 15, cam_y, ceiling)
            eq.add("FAN", comp.key, i, 1, a + 3, y, spec.INNER_TOP_Z - 0.85)
            eq.add("FAN", comp.key, i, 2, b - 3, y, spec.INNER_TOP_Z - 0.85)
            sump_y = spec.SUMP_Y[comp.key]
            eq.add("LS", comp.key, i, 1, b - 10, sump_y, floor)
            eq.add("PMP", comp.key, i, 1, b - 9, sump_y, floor)
        x = spec.LIGHT_SPACING / 2
        while x < spec.LENGTH:
            eq.add("LT", comp.key, spec.fire_index(comp, x), 1, x, y, spec.INNER_TOP_Z - 0.08)
            x += spec.LIGHT_SPACING
    eq.finish()
    return eq.devices

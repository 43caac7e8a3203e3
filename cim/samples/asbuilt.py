"""The compliant submission's later life: its construction-drawing (design) model and two as-built models.

``lifecycle/design.ifc`` is the approved scheme A with what a design review asks for on top (fire ratings on
walls, slabs, columns, beams and doors; see schemas/design_requirements_<schema>.ids). ``as_built_ok.ifc`` was built
0.2 m taller (storeys of 3.62 m): within the sample city's completion tolerances. ``as_built_bad.ifc`` was
built 1.5 m taller and with 8.3 m bays (1.8 m wider): its height, footprint and gross floor area deviate beyond
them. Both carry the asset data a handover asks for (tag, manufacturer, model, serial number, installation and
warranty dates) on every door, window, duct and pipe segment. All three keep the model id of the approved plan,
so every element keeps its GlobalId. ``expected.toml`` records each as-built's indicator deviations and
which exceed the tolerances, computed here from the same specs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from cim.config import LIFECYCLE_TOLERANCES
from cim.samples import building_ifc, submissions
from cim.samples import ifc_build as b
from cim.samples.grid_building import BuildingSpec

FOLDER = "lifecycle"
PLAN = submissions.COMPLIANT
DESIGN = dataclasses.replace(PLAN, file_name=f"{FOLDER}/design.ifc", phase="build",
                             description="Construction-drawing model of scheme A: fire ratings added")
AS_BUILT = {
    "as_built_ok": dataclasses.replace(PLAN, file_name=f"{FOLDER}/as_built_ok.ifc", phase="build",
                                       storey_height=3.62,
                                       description="As-built model of scheme A: 0.2 m taller than approved"),
    "as_built_bad": dataclasses.replace(PLAN, file_name=f"{FOLDER}/as_built_bad.ifc", phase="build",
                                        storey_height=3.75, bay_x=8.3,
                                        description="As-built model of scheme A: 1.5 m taller and 1.8 m wider "
                                                    "than approved"),
}
FIRE = {"IfcWall": ("Pset_WallCommon", "REI 120"), "IfcSlab": ("Pset_SlabCommon", "REI 120"),
        "IfcColumn": ("Pset_ColumnCommon", "R 180"), "IfcBeam": ("Pset_BeamCommon", "R 120"),
        "IfcDoor": ("Pset_DoorCommon", "EI 60")}
ASSETS = ("IfcDoor", "IfcWindow", "IfcDuctSegment", "IfcPipeSegment")
MAKERS = {"IfcDoor": ("Minjiang Doors Co.", "MD-900"), "IfcWindow": ("Haixia Glazing Ltd.", "HX-W18"),
          "IfcDuctSegment": ("Fuzhou Ductworks", "FD-500x300"), "IfcPipeSegment": ("Binhai Pipe Co.", "PPR-S5")}
# Indicator: (key in submissions.measure, tolerance key in [lifecycle], relative to the plan's value?)
INDICATORS = {"height": ("height_m", "height_m", False),
              "footprint": ("footprint_area_m2", "footprint_share", True),
              "setback": ("min_setback_m", "setback_m", False),
              "red_line_setback": ("distance_to_avenue_red_line_m", "setback_m", False),
              "gfa": ("gross_floor_area_m2", "gfa_share", True),
              "far": ("far", "far", False),
              "coverage": ("coverage", "coverage", False)}


def _model(spec: BuildingSpec, handover: bool) -> b.Model:
    m, _clashes = building_ifc.build(spec)
    with b.shared_owner_history(m._history):
        for ifc_class, (pset, rating) in FIRE.items():
            for element in m.f.by_type(ifc_class):
                b.add_pset(m, element, pset, {"FireRating": rating})
        if handover:
            for ifc_class in ASSETS:
                maker, model = MAKERS[ifc_class]
                for n, element in enumerate(m.f.by_type(ifc_class), 1):
                    element.Tag = f"{ifc_class[3:6].upper()}-{n:04d}"
                    b.add_pset(m, element, "Pset_ManufacturerTypeInformation",
                               {"Manufacturer": maker, "ModelLabel": model})
                    b.add_pset(m, element, "Pset_ManufacturerOccurrence",
                               {"SerialNumber": f"{model}-{n:05d}", "AcquisitionDate": "2026-09-01"})
                    b.add_pset(m, element, "Pset_Warranty",
                               {"WarrantyStartDate": "2026-10-01", "WarrantyEndDate": "2028-09-30"})
    b.finalise(m, spec.model_id, Path(spec.file_name).name, spec.description)  # new psets get their GlobalIds
    return m


def deviations(spec: BuildingSpec) -> dict[str, dict[str, Any]]:
    """Each completion indicator of ``spec`` against the approved plan: both values, deviation, tolerance."""
    plan, built = submissions.measure(PLAN), submissions.measure(spec)
    out = {}
    for name, (key, tol_key, relative) in INDICATORS.items():
        deviation = built[key] - plan[key]
        measured = abs(deviation) / plan[key] if relative else abs(deviation)
        tolerance = LIFECYCLE_TOLERANCES[tol_key]
        out[name] = {"approved": plan[key], "as_built": built[key], "deviation": round(deviation, 4),
                     "tolerance": tolerance, "relative": relative, "passes": measured <= tolerance + 1e-9}
    return out


def expected() -> dict[str, dict[str, Any]]:
    out = {}
    for key, spec in AS_BUILT.items():
        dev = deviations(spec)
        out[key] = {"file": Path(spec.file_name).name, "model_id": spec.model_id,
                    "fails": [k for k, v in dev.items() if not v["passes"]], "deviations": dev}
    return out


def to_toml(data: dict[str, dict[str, Any]]) -> str:
    lines = ["# Expected completion-check outcome of the two as-built models of scheme A against the approved plan",
             "# (sample_models/submissions/compliant.ifc), with the default [lifecycle] tolerances.",
             "# Generated by cim.samples.asbuilt; do not edit.", ""]
    for key, entry in data.items():
        lines += [f"[{key}]", *(f"{k} = {submissions._value(entry[k])}" for k in ("file", "model_id", "fails"))]
        for name, dev in entry["deviations"].items():
            lines += ["", f"[{key}.deviations.{name}]"]
            lines += [f"{k} = {submissions._value(v)}" for k, v in dev.items()]
        lines.append("")
    return "\n".join(lines)


def write_lifecycle(out_dir: Path) -> list[Path]:
    """Write design.ifc, both as-built models and expected.toml under ``out_dir``/lifecycle."""
    written = []
    for spec, handover in [(DESIGN, False), *((s, True) for s in AS_BUILT.values())]:
        path = out_dir / spec.file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        _model(spec, handover).f.write(str(path))
        written.append(path)
    toml_path = out_dir / FOLDER / "expected.toml"
    toml_path.write_text(to_toml(expected()), encoding="utf-8")
    return [*written, toml_path]

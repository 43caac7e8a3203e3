"""COBie-grade handover data: owners and operators as actors, manufacturer, warranty, service life, classification.

Standard psets where IFC4X3 has them (Pset_ManufacturerTypeInformation, Pset_ManufacturerOccurrence,
Pset_Warranty, Pset_ServiceLife, Pset_Condition); the rest (installation date, warranty end, expected life,
next maintenance, owner, operator) in the documented custom ``Pset_CimHandover``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ifcopenshell.guid

from cim.samples import tunnel_spec as spec
from cim.samples.tunnel_ifc import Entity, Model, stable_guid


@dataclass(frozen=True)
class Product:
    """Manufacturer data of one element type."""

    manufacturer: str
    model_label: str
    model_reference: str
    warranty_years: int
    life_years: int
    maintenance_months: int


class Handover:
    """Creates the actors once and hands out the per-asset data."""

    def __init__(self, m: Model) -> None:
        self.m = m
        self.actors: dict[str, Entity] = {}
        for party in spec.PARTIES:
            org = m.f.createIfcOrganization(Identification=party.key, Name=party.name)
            actor = m.f.createIfcActor(stable_guid(f"actor/{party.key}"), None, party.name, None, None, org)
            self.actors[party.key] = actor
        src = m.f.createIfcClassification(
            Source="NBS", Edition="2015", Name="Uniclass 2015", Specification="https://uniclass.thenbs.com"
        )
        m.f.createIfcRelAssociatesClassification(ifcopenshell.guid.new(), None, "Uniclass 2015", None, [m.project], src)
        self.classification = src
        self._references: dict[str, Entity] = {}
        self._serial = 0

    def assign(self, objects: Sequence[Entity], party: spec.Party, role: str) -> None:
        """IfcRelAssignsToActor with an explicit role (OWNER, BUILDINGOPERATOR)."""
        objects = [o for o in objects if o is not None]
        if not objects:
            return
        self.m.f.createIfcRelAssignsToActor(
            ifcopenshell.guid.new(),
            None,
            f"{role.lower()}: {party.name}",
            None,
            list(objects),
            None,
            self.actors[party.key],
            self.m.f.createIfcActorRole(role, None, None),
        )

    def classify(self, objects: Sequence[Entity], code: str, title: str) -> None:
        """Attach a Uniclass 2015 reference (one IfcClassificationReference per code)."""
        ref = self._references.get(code)
        if ref is None:
            ref = self.m.f.createIfcClassificationReference(None, code, title, self.classification, None, None)
            self._references[code] = ref
            self.m.f.createIfcRelAssociatesClassification(ifcopenshell.guid.new(), None, code, None, list(objects), ref)
            return
        rel = next(r for r in self.m.f.by_type("IfcRelAssociatesClassification") if r.RelatingClassification == ref)
        rel.RelatedObjects = list(rel.RelatedObjects) + list(objects)

    def type_data(self, element_type: Entity, product: Product) -> None:
        self.m.pset(
            [element_type],
            "Pset_ManufacturerTypeInformation",
            {
                "Manufacturer": product.manufacturer,
                "ModelLabel": product.model_label,
                "ModelReference": product.model_reference,
                "ProductionYear": str(spec.HANDOVER_YEAR - 1),
            },
        )
        self.m.pset([element_type], "Pset_ServiceLife", {"ServiceLifeDuration": f"P{product.life_years}Y"})

    def occurrences(
        self,
        elements: Sequence[Entity],
        product: Product,
        owner: spec.Party,
        operator: spec.Party,
        installed: str,
        batch: str,
    ) -> None:
        """Tag-independent handover data for a batch; serials are unique and stable within the model."""
        elements = [e for e in elements if e is not None]
        if not elements:
            return
        year = int(installed[:4])
        warranty_end = f"{year + product.warranty_years}{installed[4:]}"
        months = product.maintenance_months
        nxt_year, nxt_month = year + (int(installed[5:7]) - 1 + months) // 12, (int(installed[5:7]) - 1 + months) % 12
        next_maintenance = f"{nxt_year}-{nxt_month + 1:02d}-01"
        for el in elements:
            self._serial += 1
            serial = f"{product.model_reference}-{self._serial:05d}"
            self.m.pset(
                [el],
                "Pset_ManufacturerOccurrence",
                {
                    "SerialNumber": serial,
                    "BarCode": f"69{self._serial:011d}",
                    "AcquisitionDate": installed,
                },
            )
        self.m.pset(
            elements,
            "Pset_Warranty",
            {
                "WarrantyIdentifier": f"WTY-{batch}",
                "WarrantyStartDate": installed,
                "WarrantyPeriod": f"P{product.warranty_years}Y",
                "PointOfContact": product.manufacturer,
            },
        )
        self.m.pset(elements, "Pset_Condition", {"NextAssessmentDate": next_maintenance})
        complete = [e for e in elements if "no owner" not in spec.INCOMPLETE_ASSETS.get(e.Name, "")]
        ownerless = [e for e in elements if e not in complete]
        common = {
            "InstallationDate": self.m.date(installed),
            "WarrantyStartDate": self.m.date(installed),
            "WarrantyEndDate": self.m.date(warranty_end),
            "ExpectedLifeYears": product.life_years,
            "NextMaintenanceDate": self.m.date(next_maintenance),
            "MaintenanceIntervalMonths": months,
        }
        self.m.pset(complete, "Pset_CimHandover", {**common, "Owner": owner.name, "Operator": operator.name})
        self.m.pset(ownerless, "Pset_CimHandover", common)
        self.assign(complete, owner, "OWNER")
        self.assign(complete, operator, "BUILDINGOPERATOR")
        for el in elements:
            if "no Tag" in spec.INCOMPLETE_ASSETS.get(el.Name, ""):
                el.Tag = None

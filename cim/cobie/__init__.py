"""COBie 2.4 handover workbooks of any IFC model in the store (`cim cobie MODEL_ID --xlsx FILE`)."""

from cim.cobie.workbook import export_cobie

__all__ = ["export_cobie"]

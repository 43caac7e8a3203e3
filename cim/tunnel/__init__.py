"""Utility tunnel (综合管廊) asset register, compartments and GB 50838-2015 design-rule checks."""

"""Reading IFC files: open and validate, product attributes, relationships."""

"""cim: a city information model built from IFC and GIS into Delta Lake tables."""

__version__ = "0.1.0"

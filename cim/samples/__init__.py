"""The demo city (Fuzhou Binhai New City district): GIS layers and IFC models made by code."""

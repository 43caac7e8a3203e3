"""Turning input files into store commits: IFC models and GIS layers."""

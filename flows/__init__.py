"""Prefect flows: thin orchestration over the cim library."""

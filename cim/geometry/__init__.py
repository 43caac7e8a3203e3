"""Geometry: the only place that calls the tessellator; everything else reads stored meshes."""

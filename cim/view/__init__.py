"""`cim view`: the city in 3-D in a local web page (CesiumJS over the store's 3D Tiles), and the review's 3-D view.

- :mod:`cim.view.frontend`: where the viewer's files are and whether `make install` put the front end there.
- :mod:`cim.view.geo`: city CRS -> WGS84 / ECEF with pyproj (the one place the viewer transforms coordinates).
- :mod:`cim.view.data`: what the page reads from the store, through `cim query`'s read-only connection.
- :mod:`cim.view.review`: a review's report.json (and its 3-D scene) as things to draw.
- :mod:`cim.view.scene` / :mod:`cim.view.view3d`: the submission and its neighbours as a self-contained
  three.js page next to the review's report.html.
- :mod:`cim.view.server`: the local HTTP server (static files under fixed roots, a read-only JSON API).
"""

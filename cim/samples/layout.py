"""Where things are in the demo district: the one source of truth shared by every generator.

Coordinates are (E, N) in EPSG:4549 (CGCS2000 / 3-degree Gauss-Kruger CM 120E). The CRS declares
its axes north, east; everything here is x = easting, y = northing (pyproj ``always_xy=True``).
Heights are metres above the 1985 National Height Datum.
"""

from __future__ import annotations

CITY_CRS = "EPSG:4549"
HEIGHT_DATUM = "1985 National Height Datum"
CENTRE_E, CENTRE_N = 464_900.0, 2_865_800.0
GROUND_Z = 5.0  # finished ground level of the district

# Fixed values so regenerated files are byte-identical.
TIMESTAMP = 1_767_225_600  # 2026-01-01T00:00:00Z
AUTHOR = "cim sample city"
ORGANIZATION = "Binhai New City Planning Bureau (demo)"

# Binhai Avenue: east-west trunk road; the utility tunnel runs under its north half.
AVENUE_N = 2_865_700.0
AVENUE_E0, AVENUE_E1 = 464_300.0, 465_500.0
AVENUE_RED_LINE_WIDTH = 40.0  # red line from N 2,865,680 to N 2,865,720
AVENUE_RED_LINE_NORTH = AVENUE_N + AVENUE_RED_LINE_WIDTH / 2

# Tonghu Road: north-south branch road north of the avenue.
TONGHU_E = 464_900.0
TONGHU_N0, TONGHU_N1 = AVENUE_RED_LINE_NORTH, 2_866_000.0
TONGHU_RED_LINE_WIDTH = 24.0

# Utility tunnel (综合管廊): straight axis K0+000 .. K1+000 under the avenue's north half.
TUNNEL_AXIS_N = 2_865_713.0
TUNNEL_E0, TUNNEL_E1 = 464_350.0, 465_350.0  # K0+000 at the west end, chainage grows eastwards
TUNNEL_OUTER_WIDTH = 10.0  # outer walls at N 2,865,708 and N 2,865,718
TUNNEL_OUTER_HEIGHT = 4.0
TUNNEL_TOP_Z = GROUND_Z - 3.0  # 3 m cover over the roof slab
TUNNEL_BOTTOM_Z = TUNNEL_TOP_Z - TUNNEL_OUTER_HEIGHT
TUNNEL_PROTECTION_ZONE_M = 3.0  # from the outer wall: reaches N 2,865,721, 1 m into the north parcels

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

# ---------------------------------------------------------------------------------------------------------------
# Parcels and the third road (added by the GIS / building sample generator; the values above are unchanged).
# ---------------------------------------------------------------------------------------------------------------

# Haixi Road: east-west branch road closing the northern parcel row.
HAIXI_N = 2_865_880.0
HAIXI_E0, HAIXI_E1 = AVENUE_E0, AVENUE_E1
HAIXI_RED_LINE_WIDTH = 20.0  # red line from N 2,865,870 to N 2,865,890

TONGHU_RED_LINE_WEST = TONGHU_E - TONGHU_RED_LINE_WIDTH / 2  # E 464,888
TONGHU_RED_LINE_EAST = TONGHU_E + TONGHU_RED_LINE_WIDTH / 2  # E 464,912
NORTH_ROW_N0 = AVENUE_RED_LINE_NORTH  # parcels north of the avenue abut its red line
NORTH_ROW_N1 = HAIXI_N - HAIXI_RED_LINE_WIDTH / 2  # ... and Haixi Road's red line
SOUTH_ROW_N1 = AVENUE_N - AVENUE_RED_LINE_WIDTH / 2  # N 2,865,680
SOUTH_ROW_N0 = SOUTH_ROW_N1 - 140.0

# parcel_id: (land_use, (E0, N0, E1, N1), max_height_m, max_far, max_coverage, min_setback_m)
PARCELS: dict[str, tuple[str, tuple[float, float, float, float], float, float, float, float]] = {
    "BH-01": ("residential", (464_400.0, NORTH_ROW_N0, 464_560.0, NORTH_ROW_N1), 60.0, 2.5, 0.35, 8.0),
    "BH-02": ("office", (464_560.0, NORTH_ROW_N0, 464_700.0, NORTH_ROW_N1), 45.0, 3.0, 0.45, 8.0),
    "BH-03": ("commercial", (464_700.0, NORTH_ROW_N0, TONGHU_RED_LINE_WEST, NORTH_ROW_N1), 40.0, 3.5, 0.5, 6.0),
    "BH-04": ("school", (TONGHU_RED_LINE_EAST, NORTH_ROW_N0, 465_080.0, NORTH_ROW_N1), 24.0, 1.2, 0.35, 10.0),
    "BH-05": ("office", (465_080.0, NORTH_ROW_N0, 465_240.0, NORTH_ROW_N1), 50.0, 4.0, 0.5, 8.0),
    "BH-06": ("green", (465_240.0, NORTH_ROW_N0, 465_400.0, NORTH_ROW_N1), 10.0, 0.1, 0.05, 5.0),
    "BH-11": ("residential", (464_400.0, SOUTH_ROW_N0, 464_580.0, SOUTH_ROW_N1), 60.0, 2.5, 0.35, 8.0),
    "BH-12": ("community", (464_580.0, SOUTH_ROW_N0, 464_740.0, SOUTH_ROW_N1), 24.0, 1.5, 0.4, 8.0),
    "BH-13": ("commercial", (464_740.0, SOUTH_ROW_N0, 464_950.0, SOUTH_ROW_N1), 40.0, 3.5, 0.5, 6.0),
    "BH-14": ("residential", (464_950.0, SOUTH_ROW_N0, 465_150.0, SOUTH_ROW_N1), 60.0, 2.5, 0.35, 8.0),
    "BH-15": ("green", (465_150.0, SOUTH_ROW_N0, 465_400.0, SOUTH_ROW_N1), 10.0, 0.1, 0.05, 5.0),
}
SUBMISSION_PARCEL = "BH-02"  # empty, north of the avenue, abutting its red line

"""Read field alternative names and comments with GDAL's own C API (the GDAL pyogrio runs on).

pyogrio exposes neither, so the tests ask GDAL directly through ctypes: if GDAL (≥ 3.7,
which reads them from a GeoPackage's gpkg_data_columns) reports the aliases the tool
wrote, every GDAL-based reader (QGIS on GDAL ≥ 3.7, ogr2ogr, ArcGIS Pro's GDAL readers)
sees them without the QGIS style. Test helper only: the product never does this.
"""

from __future__ import annotations

import ctypes
import glob
import os


def _library() -> ctypes.CDLL | None:
    import pyogrio

    here = os.path.dirname(pyogrio.__file__)
    candidates = glob.glob(os.path.join(here, "..", "pyogrio.libs", "libgdal*.so*"))  # manylinux wheel
    candidates += glob.glob(os.path.join(here, ".dylibs", "libgdal*.dylib"))  # macOS wheel
    for path in candidates:
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


def gdal_version() -> tuple[int, int] | None:
    import pyogrio

    v = pyogrio.__gdal_version__
    return (v[0], v[1]) if v else None


def field_names(path: str, layer: str) -> dict[str, tuple[str, str]] | None:
    """{field: (alternative name, comment)} as GDAL reads them, or None if GDAL cannot be reached."""
    lib = _library()
    if lib is None or (gdal_version() or (0, 0)) < (3, 7):
        return None
    vp, cp = ctypes.c_void_p, ctypes.c_char_p
    lib.GDALAllRegister()
    lib.GDALOpenEx.restype, lib.GDALOpenEx.argtypes = vp, [cp, ctypes.c_uint, vp, vp, vp]
    lib.GDALDatasetGetLayerByName.restype, lib.GDALDatasetGetLayerByName.argtypes = vp, [vp, cp]
    lib.OGR_L_GetLayerDefn.restype, lib.OGR_L_GetLayerDefn.argtypes = vp, [vp]
    lib.OGR_FD_GetFieldCount.argtypes = [vp]
    lib.OGR_FD_GetFieldDefn.restype, lib.OGR_FD_GetFieldDefn.argtypes = vp, [vp, ctypes.c_int]
    for name in ("OGR_Fld_GetNameRef", "OGR_Fld_GetAlternativeNameRef", "OGR_Fld_GetComment"):
        getattr(lib, name).restype, getattr(lib, name).argtypes = cp, [vp]
    lib.GDALClose.argtypes = [vp]
    ds = lib.GDALOpenEx(path.encode(), 0x04, None, None, None)  # GDAL_OF_VECTOR, read-only
    if not ds:
        raise OSError(f"GDAL cannot open {path}")
    try:
        lyr = lib.GDALDatasetGetLayerByName(ds, layer.encode())
        if not lyr:
            raise KeyError(layer)
        defn = lib.OGR_L_GetLayerDefn(lyr)
        out = {}
        for i in range(lib.OGR_FD_GetFieldCount(defn)):
            f = lib.OGR_FD_GetFieldDefn(defn, i)
            out[lib.OGR_Fld_GetNameRef(f).decode()] = (
                (lib.OGR_Fld_GetAlternativeNameRef(f) or b"").decode(),
                (lib.OGR_Fld_GetComment(f) or b"").decode(),
            )
        return out
    finally:
        lib.GDALClose(ds)

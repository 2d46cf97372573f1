"""Open GeoPackage layers in QGIS, as a planner does, and report what QGIS applied.

Run by tests/test_gis_clients.py with the system Python that has PyQGIS (Debian's
python3-qgis lives there, not in the project's venv), headless:

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/clients/qgis_layers.py '[["a.gpkg", "allocation"], ...]'

Prints one JSON object per layer: whether it is valid, the renderer QGIS applied on
opening (its type, class attribute, categories or ranges), whether labels are on, the
field aliases and the feature count. Imports nothing from the project.
"""

import json
import sys

from qgis.core import QgsApplication, QgsVectorLayer


def describe(path: str, layer: str) -> dict:
    vl = QgsVectorLayer(f"{path}|layername={layer}", layer, "ogr")
    out = {"path": path, "layer": layer, "valid": vl.isValid()}
    if not vl.isValid():
        return out
    renderer = vl.renderer()
    out["renderer"] = renderer.type() if renderer is not None else None
    if out["renderer"] == "categorizedSymbol":
        out["attr"] = renderer.classAttribute()
        out["categories"] = [[str(c.value()), c.label()] for c in renderer.categories()]
    elif out["renderer"] == "graduatedSymbol":
        out["attr"] = renderer.classAttribute()
        out["ranges"] = [[r.lowerValue(), r.upperValue(), r.label()] for r in renderer.ranges()]
    out["labels_enabled"] = bool(vl.labelsEnabled())
    out["aliases"] = {f.name(): f.alias() for f in vl.fields()}
    out["features"] = vl.featureCount()
    return out


def main() -> None:
    pairs = json.loads(sys.argv[1])
    app = QgsApplication([], False)
    app.initQgis()
    try:
        print(json.dumps([describe(p, lyr) for p, lyr in pairs], ensure_ascii=False))
    finally:
        app.exitQgis()


if __name__ == "__main__":
    main()

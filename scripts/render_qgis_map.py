"""Render a GeoPackage layer with the style QGIS applies on opening it, legend and title, to PNG.

Why: the README's picture of the styled map must be what QGIS itself draws from the
file, not a re-creation. Run with a Python that has PyQGIS (Debian: python3-qgis, in the
system Python), headless:

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 scripts/render_qgis_map.py \\
        results/fuchuan/<run id>/allocation.gpkg allocation docs/img/qgis-allocation.png \\
        --title "富川瑶族自治县 一乡一业 Fuchuan: one industry per township"

Imports nothing from the project: it only opens the file, as a planner's QGIS does.
"""

import argparse

from qgis.core import (
    QgsApplication,
    QgsLayout,
    QgsLayoutExporter,
    QgsLayoutItemLabel,
    QgsLayoutItemLegend,
    QgsLayoutItemMap,
    QgsLayoutPoint,
    QgsLayoutSize,
    QgsProject,
    QgsUnitTypes,
    QgsVectorLayer,
)
from qgis.PyQt.QtGui import QFont


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("gpkg")
    ap.add_argument("layer")
    ap.add_argument("png")
    ap.add_argument("--title", default="")
    ap.add_argument("--dpi", type=int, default=110)
    args = ap.parse_args()

    app = QgsApplication([], False)
    app.initQgis()
    try:
        layer = QgsVectorLayer(f"{args.gpkg}|layername={args.layer}", args.layer, "ogr")
        if not layer.isValid():
            raise SystemExit(f"QGIS cannot open {args.gpkg} layer {args.layer}")
        project = QgsProject.instance()
        project.addMapLayer(layer)
        project.setCrs(layer.crs())

        layout = QgsLayout(project)
        layout.initializeDefaults()
        layout.pageCollection().page(0).setPageSize(QgsLayoutSize(230, 230, QgsUnitTypes.LayoutMillimeters))

        title = QgsLayoutItemLabel(layout)
        title.setText(args.title or args.layer)
        title.setFont(QFont("Noto Sans CJK SC", 14))
        layout.addLayoutItem(title)
        title.attemptMove(QgsLayoutPoint(8, 5, QgsUnitTypes.LayoutMillimeters))
        title.attemptResize(QgsLayoutSize(214, 10, QgsUnitTypes.LayoutMillimeters))

        item = QgsLayoutItemMap(layout)
        item.setRect(20, 20, 20, 20)
        item.setCrs(layer.crs())
        extent = layer.extent()
        extent.scale(1.04)
        item.setExtent(extent)
        item.setLayers([layer])
        layout.addLayoutItem(item)
        item.attemptMove(QgsLayoutPoint(8, 17, QgsUnitTypes.LayoutMillimeters))
        item.attemptResize(QgsLayoutSize(214, 170, QgsUnitTypes.LayoutMillimeters))
        item.zoomToExtent(extent)

        legend = QgsLayoutItemLegend(layout)
        legend.setLinkedMap(item)
        legend.setTitle("")
        legend.setAutoUpdateModel(False)
        group = legend.model().rootGroup()
        for node in group.findLayers():
            node.setCustomProperty("legend/title-style", "hidden")  # the categories only, no layer name
        layout.addLayoutItem(legend)
        legend.attemptMove(QgsLayoutPoint(8, 189, QgsUnitTypes.LayoutMillimeters))

        exporter = QgsLayoutExporter(layout)
        settings = QgsLayoutExporter.ImageExportSettings()
        settings.dpi = args.dpi
        settings.generateWorldFile = False
        settings.exportMetadata = False
        result = exporter.exportToImage(args.png, settings)
        if result != QgsLayoutExporter.Success:
            raise SystemExit(f"export failed ({result})")
    finally:
        app.exitQgis()


if __name__ == "__main__":
    main()

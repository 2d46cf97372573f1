"""What a run leaves behind: result tables (pure pandas), atomic run folders, GeoPackages
with their QGIS styles. Knows tables and geometry, never the algebra.
"""

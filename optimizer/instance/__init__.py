"""Instance files: schema, reading with locations, and cross-checks. Never imports Pyomo."""

"""Instance files: schema, YAML with positions, the one table reader, overrides, cross-checks,
and the per-hectare coefficients of every (township, industry) pair. Never imports Pyomo.
"""

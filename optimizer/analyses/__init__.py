"""Questions asked of the pipeline: GEP accounts, scoring a planner's plan, comparing runs,
what-if sweeps (and the trade-off and uncertainty commands). The pipeline never calls them.
"""

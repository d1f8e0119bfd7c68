"""Dagster assets and asset checks, one module per stage of the asset graph."""

import warnings

import dagster as dg

# Beta APIs of Dagster 1.13.27 (pinned) that the asset graph is built on: one run per weather backfill, a
# tenant-wide input of a tenant × date asset, a materialization's logical data version. Their warnings would
# otherwise print on every command and run.
for _api in ("Parameter `backfill_policy`", "Class `MultiToSingleDimensionPartitionMapping`", "Parameter `data_version`"):
    warnings.filterwarnings("ignore", message=_api, category=dg.BetaWarning)

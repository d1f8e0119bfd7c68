"""Dagster assets and asset checks, one module per stage of the asset graph."""

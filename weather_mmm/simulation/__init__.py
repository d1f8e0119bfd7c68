"""Synthetic tenants on real weather: catalog, spend and demand simulation, ground truth, quality checks."""

"""Feature tables built from sales, spend and weather, without leakage from the future."""

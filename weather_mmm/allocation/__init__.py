"""Budget allocation from fitted response curves and the weather forecast."""

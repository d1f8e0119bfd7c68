"""weather-mmm: marketing-mix models with weather as a first-class driver.

The domain library is plain Python (no Dagster): ``weather_mmm.weather`` (sources, climatology,
derived signals), and later simulation, features, models and allocation. Only
``weather_mmm.definitions`` imports Dagster.
"""

__version__ = "0.1.0"

"""Dagster resources: the DuckDB warehouse (IO manager and query resource) and the weather source."""

from resources.warehouse import WAREHOUSE_POOL, warehouse_io_manager, warehouse_resource
from resources.weather import WeatherSource

__all__ = ["WAREHOUSE_POOL", "WeatherSource", "warehouse_io_manager", "warehouse_resource"]

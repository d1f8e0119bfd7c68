"""Dagster resources: the DuckDB warehouse (IO manager and query resource), the weather source and the console logger."""

from resources.console import console_logger
from resources.warehouse import WAREHOUSE_POOL, warehouse_io_manager, warehouse_resource
from resources.weather import WeatherSource

__all__ = ["WAREHOUSE_POOL", "WeatherSource", "console_logger", "warehouse_io_manager", "warehouse_resource"]

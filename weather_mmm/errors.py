"""Errors raised for bad input. Each message names the file, URL, city, tenant, date or column at fault."""


class WeatherMMMError(Exception):
    """Base class of the errors a user can act on (the CLI prints them without a traceback)."""


class WeatherInputError(WeatherMMMError, ValueError):
    """A weather file, API response or setting that cannot be used as it is."""


class WeatherSourceUnavailable(WeatherMMMError):
    """The configured weather source cannot be reached (HTTP error, timeout, missing folder)."""

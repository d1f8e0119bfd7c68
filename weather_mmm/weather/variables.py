"""The daily weather variables the platform carries, in Open-Meteo's names and default units.

Open-Meteo daily variables: https://open-meteo.com/en/docs/historical-weather-api
"""

from __future__ import annotations

#: Canonical variable -> unit. Every table and reader uses exactly these names and units.
VARIABLES: dict[str, str] = {
    "temperature_2m_max": "°C",
    "temperature_2m_min": "°C",
    "temperature_2m_mean": "°C",
    "apparent_temperature_mean": "°C",
    "precipitation_sum": "mm",
    "rain_sum": "mm",
    "snowfall_sum": "cm",
    "wind_speed_10m_mean": "km/h",
    "relative_humidity_2m_mean": "%",
    "shortwave_radiation_sum": "MJ/m²",
}

#: What the archive and forecast APIs are asked for (wind max is offered; we keep the mean).
API_DAILY_VARIABLES: tuple[str, ...] = tuple(VARIABLES)

#: Flag values, in order of trust.
OBSERVED, DERIVED, FILLED = "observed", "derived", "filled"

# Accepted spellings of a unit -> factor and offset to the canonical unit (value * a + b).
_CELSIUS = {"°C": (1.0, 0.0), "C": (1.0, 0.0), "degC": (1.0, 0.0), "celsius": (1.0, 0.0),
            "°F": (5 / 9, -32 * 5 / 9), "F": (5 / 9, -32 * 5 / 9), "degF": (5 / 9, -32 * 5 / 9),
            "fahrenheit": (5 / 9, -32 * 5 / 9)}
_MM = {"mm": (1.0, 0.0), "inch": (25.4, 0.0), "in": (25.4, 0.0), "inches": (25.4, 0.0)}
_CM = {"cm": (1.0, 0.0), "mm": (0.1, 0.0), "inch": (2.54, 0.0), "in": (2.54, 0.0), "inches": (2.54, 0.0)}
_KMH = {"km/h": (1.0, 0.0), "kmh": (1.0, 0.0), "m/s": (3.6, 0.0), "ms": (3.6, 0.0),
        "mph": (1.609344, 0.0), "mp/h": (1.609344, 0.0), "kn": (1.852, 0.0), "knots": (1.852, 0.0)}
_PERCENT = {"%": (1.0, 0.0)}
_MJ = {"MJ/m²": (1.0, 0.0), "MJ/m2": (1.0, 0.0)}

UNIT_CONVERSIONS: dict[str, dict[str, tuple[float, float]]] = {
    "temperature_2m_max": _CELSIUS,
    "temperature_2m_min": _CELSIUS,
    "temperature_2m_mean": _CELSIUS,
    "apparent_temperature_mean": _CELSIUS,
    "precipitation_sum": _MM,
    "rain_sum": _MM,
    "snowfall_sum": _CM,
    "wind_speed_10m_mean": _KMH,
    "relative_humidity_2m_mean": _PERCENT,
    "shortwave_radiation_sum": _MJ,
}


def flag_column(variable: str) -> str:
    """Name of the column holding the observed/derived/filled flag of ``variable``."""
    return f"{variable}_flag"

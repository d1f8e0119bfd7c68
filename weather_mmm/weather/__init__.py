"""Weather: real sources (Open-Meteo API, seed files), climatology generator, weather-year mapping, signals."""

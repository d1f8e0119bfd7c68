"""Turn the library's check outcomes into Dagster asset check results (one place for both stages)."""

import dagster as dg

from weather_mmm.weather.quality import CheckOutcome


def check_result(outcome: CheckOutcome, severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR) -> dg.AssetCheckResult:
    """``outcome`` as an ``AssetCheckResult``; dict and list figures are shown as JSON metadata."""
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=severity,
        description=outcome.summary,
        metadata={k: dg.MetadataValue.json(v) if isinstance(v, (dict, list)) else v for k, v in outcome.metadata.items()},
    )

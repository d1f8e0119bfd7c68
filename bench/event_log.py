"""Benchmark: what Dagster's event log costs a tenant's data run, on the project's instance settings.

Run: ``.venv/bin/python bench/event_log.py`` (~15 s). One run materializes 4 daily-partitioned tables over 731
days with ``BackfillPolicy.single_run()``, as ``tenant_data_job`` does for a tenant (2,924 materializations), in
a fresh ``DAGSTER_HOME`` with ``storage/dagster/dagster.yaml`` (``resources.instance.PooledSqliteEventLogStorage``),
and prints its wall time: nearly all of it is storing the events, since the asset computes nothing.
"""

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DAGSTER_HOME"] = home = tempfile.mkdtemp(prefix="weather-mmm-bench-")
shutil.copy(ROOT / "storage" / "dagster" / "dagster.yaml", home)

import dagster as dg  # noqa: E402

from sensors.jobs import range_tags  # noqa: E402

TABLES = [f"table_{i}" for i in range(4)]


@dg.multi_asset(specs=[dg.AssetSpec(t) for t in TABLES], partitions_def=dg.DailyPartitionsDefinition("2023-01-01"),
                backfill_policy=dg.BackfillPolicy.single_run())
def tables(context: dg.AssetExecutionContext):
    for t in TABLES:
        yield dg.MaterializeResult(asset_key=t, metadata={"days": len(context.partition_keys)}, data_version=dg.DataVersion("x"))


def main() -> None:
    try:
        with dg.DagsterInstance.get() as instance:
            start = time.perf_counter()
            result = dg.materialize([tables], instance=instance, tags=range_tags("2023-01-01", "2024-12-31"))
            elapsed = time.perf_counter() - start
            stored = len(instance.fetch_materializations(dg.AssetKey(TABLES[0]), limit=1000).records)
        print(f"{type(instance.event_log_storage).__name__}: one run of 4 tables x 731 days, "
              f"{'succeeded' if result.success else 'FAILED'} in {elapsed:.1f} s ({stored} materializations of {TABLES[0]})")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()

"""The local Dagster instance's event log (``storage/dagster/dagster.yaml``): Dagster's SQLite event log with
connections kept open between events.

Dagster's ``SqliteEventLogStorage`` makes a new SQLAlchemy engine and SQLite connection for every event, and
closes them. Closing the last connection to a WAL database checkpoints it, and SQLAlchemy caches compiled
statements per engine, so nothing is reused. A tenant's data run writes 2,924 materializations (731 days x
4 tables), each to its run's shard and to the index shard, and spent 62 of its 66 s there (cProfile,
clearpath_snow_removal, 731 days). :class:`PooledSqliteEventLogStorage` keeps one engine and connection per
shard: cocoa_corner's data run took 24 s instead of 48 s (15 s once the events stopped carrying the table's
schema, ``resources.warehouse``). The file layout, schema and queries are Dagster's own, so an instance can
switch back and forth.

- Run shards checkpoint after every commit (``PRAGMA wal_autocheckpoint=1``), as closing did: the UI
  follows a live run by watching its ``<run_id>.db`` file change, not its write-ahead log.
- Commits do not wait for an fsync (``synchronous=NORMAL``). In WAL mode that is safe from corruption; a
  commit may be lost only if the operating system crashes (https://www.sqlite.org/pragma.html).
- A step's partition events are stored as one batch, one transaction per shard (Dagster's own batching,
  ``DAGSTER_EVENT_BATCH_SIZE``, which its SQLite storage accepts but stores event by event), and whether the
  index has its tag table, which Dagster asks before storing each event's tags through a new engine of its
  own, is asked once. ``bench/event_log.py`` (731 days x 4 tables in one run): 4.6 and 4.7 s; asked once but
  not batched, 12.7 and 12.8 s; neither, 13.7 and 14.6 s. The main job's data runs took 4.5 s a tenant at 11d151a,
  against 11.4 s at a7fd686 (11.7 s of a 12.2 s run storing events).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as db
from dagster._config import StringSource
from dagster._core.events import ASSET_EVENTS
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.sqlalchemy_compat import db_result
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy.pool import StaticPool

#: Run shards whose connection stays open (most recent first); older ones are closed.
OPEN_RUN_SHARDS = 4
#: Events Dagster buffers before storing them as one batch (``DAGSTER_EVENT_BATCH_SIZE``; 0 stores each alone).
EVENT_BATCH_SIZE = 1000


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log under ``<dagster_home>/history/runs`` (where the default instance keeps
    it), with one open connection per shard: the index and the :data:`OPEN_RUN_SHARDS` latest runs.

    Configured in ``dagster.yaml``::

        event_log_storage:
          module: resources.instance
          class: PooledSqliteEventLogStorage
          config:
            dagster_home: {env: DAGSTER_HOME}
    """

    def __init__(self, dagster_home: str, inst_data=None):
        # Dagster batches a step's partition events only when this is set, in the process that stores them:
        # every process that loads this storage (the CLI, the webserver, the daemon, run workers).
        os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", str(EVENT_BATCH_SIZE))
        self._engines: OrderedDict[str, db.Engine] = OrderedDict()
        self._index_tables: set[str] = set()
        self._pid = os.getpid()
        self._dagster_home = dagster_home
        super().__init__(os.path.join(dagster_home, "history", "runs"), inst_data=inst_data)

    @classmethod
    def config_type(cls):
        return {"dagster_home": StringSource}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> db.Engine:
        if self._pid != os.getpid():  # a forked child must not share its parent's connections
            self._engines.clear()
            self._pid = os.getpid()
        engine = self._engines.pop(shard, None)
        if engine is None:
            engine = db.create_engine(self.conn_string_for_shard(shard), poolclass=StaticPool,
                                      connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False})
            pragmas = ["synchronous=NORMAL"] + (["wal_autocheckpoint=1"] if shard != INDEX_SHARD_NAME else [])
            db.event.listen(engine, "connect", lambda dbapi, _: [dbapi.execute(f"PRAGMA {p}") for p in pragmas])
        self._engines[shard] = engine
        self._engines.move_to_end(shard, last=False)
        runs = [s for s in self._engines if s != INDEX_SHARD_NAME]
        for old in runs[OPEN_RUN_SHARDS:]:
            self._engines.pop(old).dispose()
        return engine

    def store_event_batch(self, events) -> None:
        """A batch of one run's asset events in one transaction per shard, the rows :meth:`store_event` writes
        for each (Dagster's SQLite storage stores a batch event by event). Anything else goes event by event.
        Should the index's transaction fail after the run shard's committed, Dagster stores the batch again
        event by event: the run's log then shows those events twice; none is lost."""
        if len({e.run_id for e in events}) != 1 or not all(e.is_dagster_event and e.dagster_event_type in ASSET_EVENTS
                                                           for e in events):
            super().store_event_batch(events)
            return
        inserts = [self.prepare_insert_event(e) for e in events]
        with self.run_connection(events[0].run_id) as conn:
            for insert in inserts:
                conn.execute(insert)
        with self.index_transaction() as conn:
            ids = []
            for insert in inserts:
                with db_result(conn, insert) as result:
                    ids.append(result.inserted_primary_key[0])
            self._store_asset_event_tags(conn, events, ids)
            for event, event_id in zip(events, ids):
                self._store_asset_event(conn, event, event_id)

    def has_table(self, table_name: str) -> bool:
        # A table that exists stays (wipe empties tables, it does not drop them), so a yes is remembered.
        if table_name not in self._index_tables and super().has_table(table_name):
            self._index_tables.add(table_name)
        return table_name in self._index_tables

    @contextmanager
    def _connect(self, shard: str) -> Iterator[db.Connection]:
        # The lock serializes every use of a shard's one connection across threads, as in Dagster's class.
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _close_all(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        self._close_all()
        super().wipe()

    def dispose(self) -> None:
        self._close_all()
        super().dispose()

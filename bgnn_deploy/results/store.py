"""The results store: every `run` appended to a SQLite database, never overwritten.

One row per run (target facts, flags, speedup, energy, the whole report as JSON) and
one per measurement (model and thread count: hash, median latency, peak memory,
energy per inference, the runner's JSON). A run is written in one transaction, so an
interrupted run leaves the store as it was. The schema is versioned with SQLite's
``user_version`` and migrated forward on open.

    >>> import tempfile, os
    >>> store = ResultsStore(os.path.join(tempfile.mkdtemp(), "r.sqlite"))
    >>> store.list_runs()
    []
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any

from bgnn_deploy.errors import BgnnDeployError, ConfigError
from bgnn_deploy.results.records import RunReport, StoredRun

__all__ = ["SCHEMA_VERSION", "ResultsStore", "default_db_path"]

# Each entry upgrades the schema by one version; never edit a released entry.
MIGRATIONS = [
    """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        created TEXT NOT NULL,
        target TEXT NOT NULL,
        emulated INTEGER NOT NULL,
        facts TEXT NOT NULL,      -- arch, cpu, glibc, kernel, governor, cores (JSON)
        flags TEXT NOT NULL,      -- runs, warm-up, threads, energy (JSON)
        speedup REAL,
        energy TEXT,              -- probe and idle power, or why not available (JSON)
        report TEXT NOT NULL      -- the whole `run --json` object
    );
    CREATE TABLE measurements (
        run_id TEXT NOT NULL REFERENCES runs(run_id),
        role TEXT NOT NULL,
        model TEXT NOT NULL,
        model_sha256 TEXT NOT NULL,
        threads INTEGER NOT NULL,
        runtime TEXT,
        latency_ms_median REAL NOT NULL,
        peak_rss_kb INTEGER,
        energy_per_inference_mj REAL,
        result TEXT NOT NULL      -- the runner's JSON
    );
    CREATE INDEX measurements_run ON measurements(run_id);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def default_db_path() -> Path:
    """``$BGNN_DEPLOY_DB``, else the user's data dir (``$XDG_DATA_HOME/bgnn-deploy``)."""
    env = os.environ.get("BGNN_DEPLOY_DB")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "bgnn-deploy" / "results.sqlite"


class ResultsStore:
    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else default_db_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # shared by the threads of a multi-target run; writes are serialised below
            self.db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            self.db.row_factory = sqlite3.Row  # rows as mappings named by their SELECT
            self._lock = threading.Lock()
            self._migrate()
            damage = self.db.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as e:
            raise self._unusable(e) from None
        if damage != "ok":
            raise self._unusable(damage)

    def _unusable(self, problem) -> BgnnDeployError:
        said = " ".join(str(problem).replace("*** in database main ***", "").split())
        return BgnnDeployError(
            f"{self.path} is not a usable results database: {said}",
            hint=f"move it aside (mv '{self.path}' '{self.path}.damaged'; `sqlite3 FILE .recover` "
            "may save its rows) and the next run starts a new one, or give another --db",
        )

    def _rows(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        try:
            return self.db.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as e:
            raise self._unusable(e) from None

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise BgnnDeployError(
                f"{self.path} has schema version {version}; this bgnn-deploy knows "
                f"{SCHEMA_VERSION}",
                hint="upgrade bgnn-deploy, or use another --db",
            )
        for number in range(version, SCHEMA_VERSION):
            with self.db:  # one transaction per step
                self.db.executescript(MIGRATIONS[number])
                self.db.execute(f"PRAGMA user_version = {number + 1}")

    def close(self) -> None:
        self.db.close()

    def add_run(self, report: RunReport, *, flags: dict) -> str:
        """Store one `run` report (its facts, the run's ``flags``); returns its new run_id.
        The report itself is left as it was."""
        run_id = _dt.datetime.now(_dt.UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        try:
            self._insert(run_id, report, flags)
        except sqlite3.DatabaseError as e:
            raise self._unusable(e) from None
        return run_id

    def _insert(self, run_id: str, report: RunReport, flags: dict) -> None:
        stored = {**report.to_dict(), "run_id": run_id}
        with self._lock, self.db:  # all or nothing
            self.db.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                    report.target,
                    int(report.emulated),
                    json.dumps(report.facts),
                    json.dumps(flags),
                    stored["speedup"],
                    json.dumps(stored["energy"]),
                    json.dumps(stored),
                ),
            )
            for m, as_json in zip(report.results, stored["results"], strict=True):
                self.db.execute(
                    "INSERT INTO measurements VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        m.role,
                        m.model,
                        m.model_sha256,
                        m.threads,
                        m.result.runtime,
                        m.latency.median,
                        m.result.peak_rss_kb,
                        m.energy.mj if m.energy is not None else None,
                        json.dumps(as_json),
                    ),
                )

    def list_runs(self) -> list[dict[str, Any]]:
        """One row per run, oldest first: the first measurement stands for the run."""
        rows = self._rows(
            "SELECT r.run_id, r.target, r.emulated, r.created, r.speedup, "
            "json_extract(r.report, '$.speedup_stable') AS speedup_stable, m.model, "
            "m.latency_ms_median FROM runs r JOIN measurements m ON m.rowid = "
            "(SELECT MIN(rowid) FROM measurements WHERE run_id = r.run_id) "
            "ORDER BY r.created, r.rowid"
        )
        # speedup_stable: None for runs stored before the verdict was
        return [
            dict(row)
            | {
                "emulated": bool(row["emulated"]),
                "speedup_stable": None
                if row["speedup_stable"] is None
                else bool(row["speedup_stable"]),
            }
            for row in rows
        ]

    def resolve_id(self, run_id: str) -> str:
        """The full id of a run given by its id or by the end of it (``results list``
        shows the last 6 characters); an unknown or ambiguous one is a ConfigError."""
        ids = [r[0] for r in self._rows("SELECT run_id FROM runs ORDER BY created, rowid")]
        if run_id in ids:
            return run_id
        matches = [i for i in ids if run_id and i.endswith(run_id)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ConfigError(
                f"'{run_id}' ends {len(matches)} run ids in {self.path}",
                hint=f"give more of it: {', '.join(matches[-3:])}",
            )
        known = ids[-5:]
        raise ConfigError(
            f"no run '{run_id}' in {self.path}",
            hint=f"recent runs: {', '.join(known)}" if known else None,
        )

    def get_run(self, run_id: str) -> StoredRun:
        """The stored run (by its id, or the end of it), read back into its records
        (:class:`RecordError` if damaged)."""
        run_id = self.resolve_id(run_id)
        found = self._rows(
            "SELECT report, facts, flags, created FROM runs WHERE run_id = ?", (run_id,)
        )
        row = found[0]  # resolve_id found it, and runs are never removed
        where = f"run {run_id} in {self.path}"
        try:
            report, facts, flags = (json.loads(text) for text in row[:3])
        except json.JSONDecodeError as e:
            raise self._unusable(f"{where} is not JSON ({e})") from None
        return StoredRun.from_dict(
            {**report, "facts": facts, "flags": flags, "created": row[3]}, where=where
        )

    def compare(self, a: str, b: str) -> list[dict[str, Any]]:
        """Median latency and peak memory of B relative to A, and the runtimes of both, for
        each (role, threads) both runs measured."""
        first, second = self.get_run(a), self.get_run(b)

        def by_key(run: StoredRun):
            return {(m.role, m.threads): m for m in run.report.results}

        left, right = by_key(first), by_key(second)
        rows = []
        for key in sorted(set(left) & set(right)):
            la, lb = left[key].latency.median, right[key].latency.median
            rows.append(
                {
                    "role": key[0],
                    "threads": key[1],
                    "a_ms": la,
                    "b_ms": lb,
                    "b_over_a": lb / la if la else None,
                    "same_model": left[key].model_sha256 == right[key].model_sha256,
                    "a_peak_rss_kb": left[key].result.peak_rss_kb,
                    "b_peak_rss_kb": right[key].result.peak_rss_kb,
                    "a_runtime": left[key].result.runtime_label,
                    "b_runtime": right[key].result.runtime_label,
                }
            )
        return rows

    def measurements(self) -> list[dict[str, Any]]:
        """Every measurement with its run's target and time: the export's rows."""
        rows = self._rows(
            "SELECT m.run_id, r.created, r.target, r.emulated, m.role, m.model, m.model_sha256, "
            "m.threads, m.runtime, m.latency_ms_median, m.peak_rss_kb, m.energy_per_inference_mj "
            "FROM measurements m JOIN runs r USING (run_id) ORDER BY r.created, m.rowid"
        )
        return [dict(row) for row in rows]

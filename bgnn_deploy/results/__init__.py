"""Every measured run, kept: a SQLite store of `run` results (see :mod:`.store`)."""

from bgnn_deploy.results.store import ResultsStore, default_db_path

__all__ = ["ResultsStore", "default_db_path"]

"""The local store and the incremental sync engine.

``open_store`` opens (and migrates) the database; ``sync_store`` brings one store's copy up to date
through its connector. See :mod:`winback.sync.tables` for the schema and the ``buyers`` table,
:mod:`winback.sync.engine` for cursor semantics.
"""

from winback.sync.database import default_database_path, open_store
from winback.sync.engine import (
    DEFAULT_OVERLAP,
    DEFAULT_RESOURCES,
    ProgressCallback,
    ResourceReport,
    SyncProgress,
    SyncReport,
    sync_store,
)
from winback.sync.store import LocalStore, PageResult
from winback.sync.tables import store_key

__all__ = [
    "DEFAULT_OVERLAP",
    "DEFAULT_RESOURCES",
    "LocalStore",
    "PageResult",
    "ProgressCallback",
    "ResourceReport",
    "SyncProgress",
    "SyncReport",
    "default_database_path",
    "open_store",
    "store_key",
    "sync_store",
]

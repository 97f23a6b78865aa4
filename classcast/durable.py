"""The panel's small durable SQLite files (the agent's spool, the player's usage outbox).

Both live on an SD card and must survive a power cut: WAL with synchronous=FULL, small pages (a
commit writes whole pages, and the card wears by the byte) and a small cache (the agent's memory
budget is ~25 MB in all). Transactions are begun and committed explicitly.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path


def connect(path: Path) -> sqlite3.Connection:
    """Return a connection to the durable file at `path`, made if it does not exist."""
    db = sqlite3.connect(path, isolation_level=None)  # None: transactions are ours, explicit
    db.execute("PRAGMA page_size=1024")  # takes effect for a new file only
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA cache_size=-64")  # KiB: a batch and the meta rows; the OS caches the rest
    return db


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """Run the block in one write transaction: committed at its end, rolled back if it raises."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise

"""sqlite-utils over the store's own connections and transactions.

`Store.db` wraps the thread's connection in a `sqlite_utils.Database` (no plugins, and without
its `PRAGMA recursive_triggers`, so the connection policy stays the store's). Writes go through
tables of a `Store.write()` transaction: inside our BEGIN IMMEDIATE, sqlite-utils' own
`atomic()` blocks (which its insert, upsert, update and delete methods use) are SAVEPOINTs,
released but never committed on their own (sqlite-utils 4.x, `Database.atomic`); outside a
transaction they would BEGIN and COMMIT by themselves, so a write table refuses a connection
with no transaction open.
"""

from __future__ import annotations

import sqlite3

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlite_utils.db import Table


class TableAccess:
    """A mixin of `Store`: sqlite-utils tables for reads (the thread's connection) and writes."""

    def table(self, name: str, w: sqlite3.Connection | None = None) -> Table:
        """Table `name` read on this thread's connection, or written in the transaction `w`."""
        import sqlite_utils
        from sqlite_utils.db import Table

        if w is None:
            db = self.db
        elif not w.in_transaction:
            raise RuntimeError("store writes run inside Store.write()")
        else:
            db = self.db if w is self.conn else sqlite_utils.Database(
                w, recursive_triggers=False, execute_plugins=False)
        # Table() itself: `db[name]` first asks sqlite_master whether the name is a view
        return Table(db, name)

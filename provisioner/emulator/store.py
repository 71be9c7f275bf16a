"""SQLite persistence for the emulator: one row per assistant, its canonical record as JSON; soft deletes."""
from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from datetime import datetime, timezone
from typing import Any

# A table name of its own, so that a database file from an older emulator is never misread.
SCHEMA = """
CREATE TABLE IF NOT EXISTS platform_assistants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    dialect TEXT NOT NULL,
    type TEXT,
    phone_number_id INTEGER,
    fields TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE INDEX IF NOT EXISTS platform_assistants_user ON platform_assistants (user_id, deleted_at, id);
CREATE INDEX IF NOT EXISTS platform_assistants_number ON platform_assistants (user_id, phone_number_id);
"""


def _now() -> str:
    # Laravel's JSON dates: ISO 8601 with microseconds, UTC.
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Store:
    def __init__(self, path: str = ":memory:"):
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.RLock()

    @property
    def lock(self) -> threading.RLock:
        """Held across a validate-then-write, so two requests cannot both take one inbound number."""
        return self._lock

    def create(self, user_id: int, fields: dict[str, Any], status: str, dialect: str) -> dict[str, Any]:
        now = _now()
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO platform_assistants (uuid, user_id, status, dialect, type, phone_number_id, fields,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (str(uuid.uuid4()), user_id, status, dialect, fields.get("type"), fields.get("phone_number_id"),
                 json.dumps(fields), now, now))
            return self._get(user_id, cursor.lastrowid)

    def get(self, user_id: int, assistant_id: int) -> dict[str, Any] | None:
        with self._lock:
            return self._get(user_id, assistant_id)

    def page(self, user_id: int, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
        with self._lock:
            total = self._db.execute("SELECT COUNT(*) FROM platform_assistants WHERE user_id = ? AND deleted_at "
                                     "IS NULL", (user_id,)).fetchone()[0]
            rows = self._db.execute(
                "SELECT * FROM platform_assistants WHERE user_id = ? AND deleted_at IS NULL ORDER BY id "
                "LIMIT ? OFFSET ?", (user_id, per_page, (page - 1) * per_page)).fetchall()
        return [self._row(r) for r in rows], total

    def outbound(self, user_id: int) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM platform_assistants WHERE user_id = ? AND deleted_at IS NULL "
                                    "AND type = 'outbound' ORDER BY id", (user_id,)).fetchall()
        return [self._row(r) for r in rows]

    def inbound_holders(self, user_id: int, number_id: int) -> list[int]:
        """Ids of the live inbound assistants holding a number."""
        with self._lock:
            rows = self._db.execute("SELECT id FROM platform_assistants WHERE user_id = ? AND phone_number_id = ? "
                                    "AND type = 'inbound' AND deleted_at IS NULL", (user_id, number_id)).fetchall()
        return [r[0] for r in rows]

    def held_numbers(self, user_id: int) -> set[int]:
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT phone_number_id FROM platform_assistants WHERE user_id = ? "
                                    "AND type = 'inbound' AND deleted_at IS NULL AND phone_number_id IS NOT NULL",
                                    (user_id,)).fetchall()
        return {r[0] for r in rows}

    def update(self, user_id: int, assistant_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._db.execute("UPDATE platform_assistants SET fields = ?, type = ?, phone_number_id = ?, "
                             "updated_at = ? WHERE id = ? AND user_id = ? AND deleted_at IS NULL",
                             (json.dumps(fields), fields.get("type"), fields.get("phone_number_id"), _now(),
                              assistant_id, user_id))
            return self._get(user_id, assistant_id)

    def delete(self, user_id: int, assistant_id: int) -> bool:
        with self._lock:
            now = _now()
            cursor = self._db.execute("UPDATE platform_assistants SET deleted_at = ?, updated_at = ? WHERE id = ? "
                                      "AND user_id = ? AND deleted_at IS NULL", (now, now, assistant_id, user_id))
            return cursor.rowcount > 0

    def reset(self) -> None:
        with self._lock:
            # Ids go on growing, as a real platform's do: an id is never given to a second object, so a state
            # store that outlives a reset (a shared PostgreSQL store of many test runs) never sees it reused.
            self._db.execute("DELETE FROM platform_assistants")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _get(self, user_id: int, assistant_id: int) -> dict[str, Any] | None:
        row = self._db.execute("SELECT * FROM platform_assistants WHERE id = ? AND user_id = ? AND deleted_at IS "
                               "NULL", (assistant_id, user_id)).fetchone()
        return self._row(row) if row else None

    @staticmethod
    def _row(row: sqlite3.Row) -> dict[str, Any]:
        return {**dict(row), "fields": json.loads(row["fields"])}

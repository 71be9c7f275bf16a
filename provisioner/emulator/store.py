"""SQLite persistence for the emulator: one row per assistant, its create fields as JSON."""
from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime, timezone
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS assistants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    fields TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS assistants_user ON assistants (user_id, id);
"""


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Store:
    def __init__(self, path: str = ":memory:"):
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def create(self, user_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        now = _now()
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO assistants (user_id, fields, created_at, updated_at) VALUES (?, ?, ?, ?)",
                (user_id, json.dumps(fields), now, now))
            return self._get(user_id, cursor.lastrowid)

    def get(self, user_id: int, assistant_id: int) -> dict[str, Any] | None:
        with self._lock:
            return self._get(user_id, assistant_id)

    def page(self, user_id: int, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
        with self._lock:
            total = self._db.execute("SELECT COUNT(*) FROM assistants WHERE user_id = ?", (user_id,)).fetchone()[0]
            rows = self._db.execute(
                "SELECT * FROM assistants WHERE user_id = ? ORDER BY id LIMIT ? OFFSET ?",
                (user_id, per_page, (page - 1) * per_page)).fetchall()
        return [self._row(r) for r in rows], total

    def update(self, user_id: int, assistant_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._db.execute("UPDATE assistants SET fields = ?, updated_at = ? WHERE id = ? AND user_id = ?",
                             (json.dumps(fields), _now(), assistant_id, user_id))
            return self._get(user_id, assistant_id)

    def delete(self, user_id: int, assistant_id: int) -> bool:
        with self._lock:
            cursor = self._db.execute("DELETE FROM assistants WHERE id = ? AND user_id = ?", (assistant_id, user_id))
            return cursor.rowcount > 0

    def reset(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM assistants")
            self._db.execute("DELETE FROM sqlite_sequence WHERE name = 'assistants'")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _get(self, user_id: int, assistant_id: int) -> dict[str, Any] | None:
        row = self._db.execute("SELECT * FROM assistants WHERE id = ? AND user_id = ?",
                               (assistant_id, user_id)).fetchone()
        return self._row(row) if row else None

    @staticmethod
    def _row(row: sqlite3.Row) -> dict[str, Any]:
        return {**dict(row), "fields": json.loads(row["fields"])}

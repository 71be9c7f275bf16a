"""SQLite persistence for the emulator: one row per assistant (its canonical record as JSON; soft deletes), and one
row per object of every other kind (tools, knowledge bases, documents, folders, labels, phone numbers and SIP
trunks, campaigns) in one table, keyed by kind, owner and parent. Lists are one query each."""
from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

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
CREATE TABLE IF NOT EXISTS platform_objects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    parent_id INTEGER,
    fields TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS platform_objects_owner ON platform_objects (kind, user_id, parent_id, id);
CREATE TABLE IF NOT EXISTS platform_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
LIVE = "user_id = ? AND deleted_at IS NULL"
# Every column of platform_assistants but `fields`: a row's version (app._version) and what a list item needs
# besides its fields.
VERSION_COLUMNS = "id, uuid, user_id, status, dialect, type, phone_number_id, created_at, updated_at, deleted_at"


def _now() -> str:
    # Laravel's JSON dates: ISO 8601 with microseconds, UTC ("2026-12-06T09:06:05.123456Z"). isoformat, not
    # strftime: the same text at a fraction of the cost (every write stamps one).
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")[:-6] + "Z"


def _kind_column(fields: dict[str, Any]) -> str | None:
    """The `type` column (inbound or outbound, what the number look-ups ask for) of an assistant's fields: a text,
    else NULL. The API validates it before a write; a store given any other value (a list SQLite cannot bind, a
    false it would store as '0') keeps it in `fields` alone."""
    value = fields.get("type")
    return value if type(value) is str else None


def _number_column(fields: dict[str, Any]) -> int | None:
    """The `phone_number_id` column of an assistant's fields: an id (an int, not a bool), else NULL, as
    _kind_column says."""
    value = fields.get("phone_number_id")
    return value if type(value) is int else None


# The tables a database the emulator may write holds besides its own (platform_*): SQLite's, and the one table of an
# older emulator (`assistants`, never read again).
_NOT_FOREIGN = ("sqlite_", "platform_")
_OLDER_EMULATOR_TABLES = {"assistants"}


def _connect(path: str) -> sqlite3.Connection:
    """A connection to the emulator's database at `path`, or ValueError saying why the file is not one it may write:
    not SQLite, or another application's database (the provisioner's own state store given as --db, say), to
    which the emulator would otherwise add its tables."""
    try:
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    except sqlite3.DatabaseError as error:
        raise ValueError(f"cannot use {path} as the emulator's database: {error}; nothing was written to it. "
                         "Give a new file, or one the emulator made.") from None
    foreign = sorted(t for t in tables if not t.startswith(_NOT_FOREIGN) and t not in _OLDER_EMULATOR_TABLES)
    if foreign:
        db.close()
        raise ValueError(f"{path} is another application's SQLite database (tables {', '.join(foreign[:5])}), not the "
                         "emulator's; nothing was written to it. Give a new file, or one the emulator made.")
    return db


def _counted_ids(shape: str, field: str, fields: dict[str, Any] | None) -> list[int] | None:
    """The ids one assistant's `fields` give a count of `field` (shape "value": json_extract's one, "list":
    json_each's each), none for no assistant; None when they are not all plain ids (the count is then made again)."""
    if fields is None:
        return []
    value = fields.get(field)
    if value is None and (shape == "value" or field not in fields):
        return []  # no row for an absent field, nor for a null one (but json_each gives null a row)
    ids = [value] if shape == "value" else value if type(value) is list else None
    if ids is None or any(type(i) is not int for i in ids):
        return None
    return ids


class Store:
    def __init__(self, path: str = ":memory:"):
        self._db = _connect(path)
        self._db.row_factory = sqlite3.Row
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.RLock()
        # Bumped by every write of platform_assistants: the per-folder, label and knowledge base counts (a scan of
        # every assistant's JSON) are kept until the next one, as the list of those kinds is read again and again.
        self._assistant_writes = 0
        self._counts: dict[tuple, tuple[int, dict[int, int]]] = {}
        self._live: dict[int, tuple[int, int]] = {}  # page_rows' count of live assistants, per user, as _counts
        # (kind, owner) of the objects `owns` found, by id: an assistant's create checks every id it refers to
        # (tools, labels, a folder, a knowledge base), the same few objects again and again. An object never
        # changes kind or owner; the removals (remove, remove_children, reset) forget them all.
        self._owners: dict[int, tuple[str, int]] = {}

    @property
    def lock(self) -> threading.RLock:
        """Held across a validate-then-write, so two requests cannot both take one inbound number."""
        return self._lock

    def create(self, user_id: int, fields: dict[str, Any], status: str, dialect: str,
               assistant_id: int | None = None) -> dict[str, Any]:
        """A new assistant; its id is the next free one unless given (a catalogue's initial assistant).

        The row answered is the one written, not read again: its `fields` is `fields` itself, which a read gives
        back equal (a record is JSON's values already), neither queried nor decoded again."""
        now, stored = _now(), json.dumps(fields)
        row = {"id": assistant_id, "uuid": str(uuid.uuid4()), "user_id": user_id, "status": status,
               "dialect": dialect, "type": _kind_column(fields), "phone_number_id": _number_column(fields),
               "fields": stored, "created_at": now, "updated_at": now, "deleted_at": None}
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO platform_assistants (id, uuid, user_id, status, dialect, type, phone_number_id, fields,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                tuple(row.values())[:-1])
            self._assistant_writes += 1
            self._carry_counts(user_id, None, fields)
        return {**row, "id": cursor.lastrowid, "fields": fields}

    def _carry_counts(self, user_id: int, before_fields: dict[str, Any] | None,
                      after_fields: dict[str, Any] | None) -> None:
        """Keep the counts (assistant_counts, page_rows' total) current through a write of one assistant (fields
        None: it was not there before, or is no more after), instead of scanning every assistant's JSON again at
        the next list of folders, labels or knowledge bases: after a create, the write an apply makes thousands of
        (three scans of 50-80 ms each at 10,000 after every apply), and after an update or a delete (a list of
        folders after each update of 8,000 full assistants: 150 ms). A count is carried forward only when it was
        current before the write and the values on both sides are plain ids (what SQLite's json_extract and
        json_each give as they are); any other stays stale, so it is counted again."""
        before, now = self._assistant_writes - 1, self._assistant_writes
        for key, (version, counts) in self._counts.items():
            if version != before:
                continue
            shape, owner, field = key
            if owner == user_id:
                gone, added = _counted_ids(shape, field, before_fields), _counted_ids(shape, field, after_fields)
                if gone is None or added is None:
                    continue
                for i in gone:
                    counts[i] -= 1
                    if not counts[i]:
                        del counts[i]  # no row for it in the count query's answer either
                for i in added:
                    counts[i] = counts.get(i, 0) + 1
            self._counts[key] = (now, counts)
        live = (after_fields is not None) - (before_fields is not None)
        for owner, (version, total) in self._live.items():
            if version == before:
                self._live[owner] = (now, total + live if owner == user_id else total)

    def get(self, user_id: int, assistant_id: int) -> dict[str, Any] | None:
        with self._lock:
            return self._get(user_id, assistant_id)

    def page_rows(self, user_id: int, page: int, per_page: int) -> tuple[list[sqlite3.Row], int]:
        """A page of live assistants without their `fields` (`rows` gives whole rows: a list is mostly answered
        from texts remembered per version, which these columns tell), and how many live assistants there are
        (counted again only after a write)."""
        with self._lock:
            counted = self._live.get(user_id)
            if counted is None or counted[0] != self._assistant_writes:
                counted = self._live[user_id] = (self._assistant_writes, self._db.execute(
                    "SELECT COUNT(*) FROM platform_assistants WHERE user_id = ? AND deleted_at IS NULL",
                    (user_id,)).fetchone()[0])
            rows = self._db.execute(
                f"SELECT {VERSION_COLUMNS} FROM platform_assistants WHERE user_id = ? AND deleted_at IS NULL "
                "ORDER BY id LIMIT ? OFFSET ?", (user_id, per_page, (page - 1) * per_page)).fetchall()
        return rows, counted[1]

    def rows(self, assistant_ids: list[int]) -> dict[int, dict[str, Any]]:
        """Whole assistant rows by id, as the other methods answer them (the rows of a page not remembered)."""
        with self._lock:
            found = self._db.execute(f"SELECT * FROM platform_assistants WHERE id IN "
                                     f"({', '.join('?' * len(assistant_ids))})", assistant_ids).fetchall()
        return {row["id"]: self._row(row) for row in found}

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
            old = self._get(user_id, assistant_id)
            self._db.execute("UPDATE platform_assistants SET fields = ?, type = ?, phone_number_id = ?, "
                             "updated_at = ? WHERE id = ? AND user_id = ? AND deleted_at IS NULL",
                             (json.dumps(fields), _kind_column(fields), _number_column(fields), _now(),
                              assistant_id, user_id))
            self._assistant_writes += 1
            self._carry_counts(user_id, old and old["fields"], fields if old else None)
            return self._get(user_id, assistant_id)

    def delete(self, user_id: int, assistant_id: int) -> bool:
        with self._lock:
            now, old = _now(), self._get(user_id, assistant_id)
            cursor = self._db.execute("UPDATE platform_assistants SET deleted_at = ?, updated_at = ? WHERE id = ? "
                                      "AND user_id = ? AND deleted_at IS NULL", (now, now, assistant_id, user_id))
            self._assistant_writes += 1
            self._carry_counts(user_id, old and old["fields"], None)
            return cursor.rowcount > 0

    def reset(self) -> None:
        with self._lock:
            # Ids go on growing, as a real platform's do: an id is never given to a second object, so a state
            # store that outlives a reset (a shared PostgreSQL store of many test runs) never sees it reused.
            for table in ("platform_assistants", "platform_objects", "platform_meta"):
                self._db.execute(f"DELETE FROM {table}")
            self._assistant_writes += 1
            self._owners.clear()

    # --- assistants, as the other kinds see them ---

    def assistant_counts(self, user_id: int, field: str) -> dict[int, int]:
        """How many live assistants hold each value of an integer field (a folder's, a knowledge base's)."""
        return self._counted(("value", user_id, field), (
            f"SELECT json_extract(fields, '$.{field}') AS ref, COUNT(*) FROM platform_assistants WHERE {LIVE} "
            "AND ref IS NOT NULL GROUP BY ref"), user_id)

    def assistant_list_counts(self, user_id: int, field: str) -> dict[int, int]:
        """How many live assistants carry each id of a list field (a label's)."""
        return self._counted(("list", user_id, field), (
            f"SELECT item.value, COUNT(*) FROM platform_assistants, json_each(platform_assistants.fields, "
            f"'$.{field}') AS item WHERE {LIVE} GROUP BY item.value"), user_id)

    def _counted(self, key: tuple, query: str, user_id: int) -> dict[int, int]:
        """A count query's answer, kept until the next write of an assistant (a copy: callers may change it)."""
        with self._lock:
            kept = self._counts.get(key)
            if kept is None or kept[0] != self._assistant_writes:
                rows = self._db.execute(query, (user_id,)).fetchall()
                kept = self._counts[key] = (self._assistant_writes, {r[0]: r[1] for r in rows})
        return dict(kept[1])

    def rewrite_assistants(self, user_id: int, where: str, params: tuple, change: Callable[[dict], None],
                           touch: bool = True) -> int:
        """Apply `change` to the canonical record of every live assistant of the user matching `where` (SQL on
        platform_assistants), as the platform's side effects do; returns how many changed. `touch`: whether the
        side effect shows in the assistants' `updated_at` (API.md: deleting a tool, a label or a folder leaves
        them unchanged in every read)."""
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM platform_assistants WHERE {LIVE} AND ({where})",
                                    (user_id, *params)).fetchall()
            for row in rows:
                fields = json.loads(row["fields"])
                change(fields)
                self._db.execute("UPDATE platform_assistants SET fields = ?, type = ?, phone_number_id = ?, "
                                 "updated_at = ? WHERE id = ?",
                                 (json.dumps(fields), _kind_column(fields), _number_column(fields),
                                  _now() if touch else row["updated_at"], row["id"]))
            self._assistant_writes += 1
        return len(rows)

    def get_any(self, assistant_id: int) -> dict[str, Any] | None:
        """A live assistant of whichever tenant (the admin endpoints)."""
        with self._lock:
            row = self._db.execute("SELECT * FROM platform_assistants WHERE id = ? AND deleted_at IS NULL",
                                   (assistant_id,)).fetchone()
        return self._row(row) if row else None

    # --- the other kinds ---

    def objects(self, kind: str, user_id: int, parent_id: int | None = None, *, limit: int = -1,
                offset: int = 0) -> list[dict[str, Any]]:
        """A tenant's objects of a kind (under one parent when given), oldest first."""
        with self._lock:
            if parent_id is None:
                rows = self._db.execute("SELECT * FROM platform_objects WHERE kind = ? AND user_id = ? ORDER BY id "
                                        "LIMIT ? OFFSET ?", (kind, user_id, limit, offset)).fetchall()
            else:
                rows = self._db.execute("SELECT * FROM platform_objects WHERE kind = ? AND user_id = ? AND "
                                        "parent_id = ? ORDER BY id LIMIT ? OFFSET ?",
                                        (kind, user_id, parent_id, limit, offset)).fetchall()
        return [self._object(r) for r in rows]

    def owns(self, kind: str, object_id: int, user_id: int) -> bool:
        """Whether the object `object_id` exists, is of `kind` and is the tenant's: one primary-key lookup."""
        with self._lock:
            owner = self._owners.get(object_id)
            if owner is None:
                row = self._db.execute("SELECT kind, user_id FROM platform_objects WHERE id = ?",
                                       (object_id,)).fetchone()
                if row is None:
                    return False
                owner = self._owners[object_id] = (row[0], row[1])
        return owner == (kind, user_id)

    def count(self, kind: str, user_id: int) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM platform_objects WHERE kind = ? AND user_id = ?",
                                    (kind, user_id)).fetchone()[0]

    def object(self, kind: str, object_id: int | None, user_id: int | None = None) -> dict[str, Any] | None:
        """One object of a kind: the tenant's, or (user_id None) whichever tenant's."""
        if object_id is None:
            return None
        with self._lock:
            row = self._db.execute("SELECT * FROM platform_objects WHERE kind = ? AND id = ?",
                                   (kind, object_id)).fetchone()
        if row is None or (user_id is not None and row["user_id"] != user_id):
            return None
        return self._object(row)

    def field_values(self, kind: str, field: str) -> set:
        """One field's values over every tenant's objects of a kind (numbers already taken, for the shop)."""
        with self._lock:
            rows = self._db.execute(f"SELECT json_extract(fields, '$.{field}') FROM platform_objects WHERE kind = ?",
                                    (kind,)).fetchall()
        return {r[0] for r in rows}

    def insert(self, kind: str, user_id: int, fields: dict[str, Any], parent_id: int | None = None,
               object_id: int | None = None) -> dict[str, Any]:
        now = _now()
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO platform_objects (id, kind, user_id, parent_id, fields, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", (object_id, kind, user_id, parent_id, json.dumps(fields), now, now))
            return self.object(kind, cursor.lastrowid)

    def replace(self, kind: str, object_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._db.execute("UPDATE platform_objects SET fields = ?, updated_at = ? WHERE kind = ? AND id = ?",
                             (json.dumps(fields), _now(), kind, object_id))
            return self.object(kind, object_id)

    def remove(self, kind: str, object_ids: Iterable[int]) -> None:
        with self._lock:
            self._db.executemany("DELETE FROM platform_objects WHERE kind = ? AND id = ?",
                                 [(kind, i) for i in object_ids])
            self._owners.clear()

    def children(self, kind: str, parent_id: int) -> list[dict[str, Any]]:
        """The objects of a kind under one parent, whichever tenant's."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM platform_objects WHERE kind = ? AND parent_id = ? ORDER BY id",
                                    (kind, parent_id)).fetchall()
        return [self._object(r) for r in rows]

    def remove_children(self, kind: str, parent_id: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM platform_objects WHERE kind = ? AND parent_id = ?", (kind, parent_id))
            self._owners.clear()

    def rewrite_objects(self, kind: str, user_id: int, change: Callable[[dict], bool]) -> None:
        """Apply `change` to every object of a kind of the tenant; those it reports changed are saved."""
        with self._lock:
            for row in self.objects(kind, user_id):
                if change(row["fields"]):
                    self.replace(kind, row["id"], row["fields"])

    def meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM platform_meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO platform_meta (key, value) VALUES (?, ?)", (key, value))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _get(self, user_id: int, assistant_id: int) -> dict[str, Any] | None:
        row = self._db.execute("SELECT * FROM platform_assistants WHERE id = ? AND user_id = ? AND deleted_at IS "
                               "NULL", (assistant_id, user_id)).fetchone()
        return self._row(row) if row else None

    @staticmethod
    def _object(row: sqlite3.Row) -> dict[str, Any]:
        return {"id": row["id"], "kind": row["kind"], "user_id": row["user_id"], "parent_id": row["parent_id"],
                "fields": json.loads(row["fields"]), "created_at": row["created_at"],
                "updated_at": row["updated_at"]}

    @staticmethod
    def _row(row: sqlite3.Row) -> dict[str, Any]:
        return {**dict(row), "fields": json.loads(row["fields"])}

"""The station archive: one SQLite file in WAL mode holding everything the station saw and did.

Tables (one row per thing, times as integers or ISO-8601 UTC text):

* ``cadus`` -- every received CADU, raw, with its earth-receive time (``ert_ns``,
  UTC nanoseconds since 1970).
* ``packets`` -- every reassembled space packet: VC, APID, sequence count,
  PUS service/subtype, on-board time (TAI seconds since 1958 and UTC text),
  ERT, the dictionary name, the raw octets, and ``playback`` (1: it came again
  from the on-board store on the replay VC, or late, after the gap it left).
  A packet is archived once: a retransmission of octets already held is
  recognised by APID, sequence count and octets (:meth:`Archive.has_packet`).
* ``parameters`` -- every decoded parameter value: name, raw, engineering
  value (number or state name), unit, limit level, on-board time, ERT, and
  ``playback`` (a value from a retransmitted packet: history, never "latest").
* ``events`` -- on-board events (TM[5,x]), link events (gaps, uncorrectable
  codeblocks) and station events (alarms raised/cleared), one table so an
  operator reads one time line.
* ``alarms`` -- limit transitions: ``raised`` (with its level) and ``cleared``.
* ``commands`` / ``verification`` -- command history: what was sent, when,
  with which request ID, and every verification stage reported for it.
* ``state`` -- small key/value store the station needs across restarts (the
  next TC sequence count per APID).

Durability: WAL with ``synchronous=NORMAL``: a transaction is in the WAL file
when :meth:`Archive.commit` returns, so a process killed with SIGKILL loses
nothing committed (an OS crash or power loss may lose the last transactions;
pass ``synchronous="FULL"`` to trade speed for that). The station commits
before it publishes or acknowledges anything.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["Archive", "ParameterRow", "iso_ns", "SCHEMA_VERSION", "TABLES"]

SCHEMA_VERSION = 3  # 2: playback columns, packets by request (apid, seq); 3: what a link unit is, radio metadata

# Why these indexes: every query the API offers filters on a name and an ERT range, or pages by id.
SCHEMA = """
CREATE TABLE IF NOT EXISTS cadus (
    id INTEGER PRIMARY KEY, ert_ns INTEGER NOT NULL, data BLOB NOT NULL,
    carries TEXT NOT NULL DEFAULT 'cadus', meta TEXT);
CREATE TABLE IF NOT EXISTS packets (
    id INTEGER PRIMARY KEY, ert_ns INTEGER NOT NULL, vcid INTEGER NOT NULL, apid INTEGER NOT NULL,
    seq INTEGER NOT NULL, service INTEGER, subtype INTEGER, obt_tai_s REAL, obt TEXT, name TEXT,
    data BLOB NOT NULL, playback INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS packets_ert ON packets(ert_ns);
CREATE TABLE IF NOT EXISTS parameters (
    id INTEGER PRIMARY KEY, packet_id INTEGER NOT NULL, name TEXT NOT NULL, raw, eng, unit TEXT NOT NULL,
    level INTEGER NOT NULL, obt_tai_s REAL, obt TEXT, ert_ns INTEGER NOT NULL, playback INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS parameters_name_ert ON parameters(name, ert_ns);
CREATE INDEX IF NOT EXISTS parameters_ert ON parameters(ert_ns);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, ert_ns INTEGER NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
    severity TEXT NOT NULL, text TEXT NOT NULL, event_id INTEGER, obt TEXT, packet_id INTEGER, data TEXT);
CREATE INDEX IF NOT EXISTS events_ert ON events(ert_ns);
CREATE TABLE IF NOT EXISTS alarms (
    id INTEGER PRIMARY KEY, ert_ns INTEGER NOT NULL, parameter TEXT NOT NULL, state TEXT NOT NULL,
    level INTEGER NOT NULL, eng, unit TEXT NOT NULL, obt TEXT, packet_id INTEGER);
CREATE INDEX IF NOT EXISTS alarms_parameter ON alarms(parameter, id);
CREATE TABLE IF NOT EXISTS commands (
    id INTEGER PRIMARY KEY, submitted_ns INTEGER NOT NULL, name TEXT NOT NULL, args TEXT NOT NULL,
    apid INTEGER NOT NULL, seq INTEGER NOT NULL, release_at TEXT, wrapper_apid INTEGER, wrapper_seq INTEGER,
    status TEXT NOT NULL, tc BLOB NOT NULL, source TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS commands_request ON commands(apid, seq);
CREATE INDEX IF NOT EXISTS commands_wrapper ON commands(wrapper_apid, wrapper_seq);
CREATE TABLE IF NOT EXISTS verification (
    id INTEGER PRIMARY KEY, command_id INTEGER NOT NULL, stage TEXT NOT NULL, ok INTEGER NOT NULL,
    of TEXT NOT NULL, code INTEGER, reason TEXT, time_ns INTEGER NOT NULL, obt TEXT);
CREATE INDEX IF NOT EXISTS verification_command ON verification(command_id);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# after the columns a version-1 archive lacks have been added
INDEXES = """
CREATE INDEX IF NOT EXISTS packets_request ON packets(apid, seq);
CREATE INDEX IF NOT EXISTS commands_status ON commands(status);
"""

#: Tables an export may read, with their columns in output order.
TABLES: dict[str, tuple[str, ...]] = {
    "parameters": ("id", "name", "raw", "eng", "unit", "level", "obt", "obt_tai_s", "ert", "ert_ns", "packet_id",
                   "playback"),
    "packets": ("id", "ert", "ert_ns", "vcid", "apid", "seq", "service", "subtype", "obt", "obt_tai_s", "name",
                "data", "playback"),
    "events": ("id", "ert", "ert_ns", "kind", "name", "severity", "text", "event_id", "obt", "packet_id", "data"),
    "alarms": ("id", "ert", "ert_ns", "parameter", "state", "level", "eng", "unit", "obt", "packet_id"),
    "cadus": ("id", "ert", "ert_ns", "data", "carries", "meta"),
}


def iso_ns(t_ns: int) -> str:
    """ISO-8601 UTC text (microseconds, ``Z``) for UTC nanoseconds since 1970."""
    dt = datetime.fromtimestamp(t_ns // 1000 / 1e6, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class ParameterRow:
    """One decoded parameter value to archive."""

    name: str
    raw: int | float
    eng: int | float | str
    unit: str
    level: int


class Archive:
    """The station's SQLite archive (WAL). Writes collect in one transaction until :meth:`commit`."""

    def __init__(self, path: str | Path, *, synchronous: str = "NORMAL") -> None:
        if synchronous.upper() not in ("NORMAL", "FULL"):
            raise ValueError(f"archive synchronous is {synchronous!r}, allowed NORMAL or FULL")
        self.path = Path(path)
        # isolation_level=None: we open and commit transactions ourselves, so one batch = one commit
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=True)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)
        # an older archive: the columns it lacks (version 1: playback; version 2: carries, meta)
        for table, column, decl in (("packets", "playback", "INTEGER NOT NULL DEFAULT 0"),
                                    ("parameters", "playback", "INTEGER NOT NULL DEFAULT 0"),
                                    ("cadus", "carries", "TEXT NOT NULL DEFAULT 'cadus'"),
                                    ("cadus", "meta", "TEXT")):
            columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if column not in columns:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
        self._db.executescript(INDEXES)
        self._db.execute("UPDATE state SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
        self._db.execute("INSERT OR IGNORE INTO state(key, value) VALUES ('schema_version', ?)",
                         (str(SCHEMA_VERSION),))
        self._in_tx = False
        self.commits = 0
        # rows nobody needs an id of (CADUs, parameter values) wait here and go in with one executemany per
        # table just before the transaction commits (or before any read, so a read sees every write)
        self._cadu_rows: list[tuple[int, bytes, str, str | None]] = []
        self._parameter_rows: list[tuple[Any, ...]] = []

    # ----------------------------------------------------------------- transactions
    @property
    def journal_mode(self) -> str:
        """The SQLite journal mode in force ('wal')."""
        return str(self._db.execute("PRAGMA journal_mode").fetchone()[0])

    def _begin(self) -> None:
        if not self._in_tx:
            self._db.execute("BEGIN")
            self._in_tx = True

    def _write_buffered(self) -> None:
        if self._cadu_rows:
            self._db.executemany("INSERT INTO cadus(ert_ns, data, carries, meta) VALUES (?, ?, ?, ?)", self._cadu_rows)
            self._cadu_rows.clear()
        if self._parameter_rows:
            self._db.executemany(
                "INSERT INTO parameters(packet_id, name, raw, eng, unit, level, obt_tai_s, obt, ert_ns, playback) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", self._parameter_rows)
            self._parameter_rows.clear()

    def commit(self) -> None:
        """Make everything written so far durable against a process kill."""
        self._write_buffered()
        if self._in_tx:
            self._db.execute("COMMIT")
            self._in_tx = False
            self.commits += 1

    def close(self) -> None:
        """Commit and close."""
        self.commit()
        self._db.close()

    # ----------------------------------------------------------------- writes
    def add_cadu(self, data: bytes, *, ert_ns: int, carries: str = "cadus",
                 meta: Mapping[str, Any] | None = None) -> None:
        """Archive one received link unit (a CADU, or a frame a radio decoded: ``carries``) with the radio's
        metadata (gr-satellites' RS corrections, say) as JSON; written at the next :meth:`commit`."""
        self._begin()
        self._cadu_rows.append((ert_ns, data, carries, json.dumps(dict(meta), default=str) if meta else None))

    def add_packet(self, data: bytes, *, ert_ns: int, vcid: int, apid: int, seq: int, service: int | None = None,
                   subtype: int | None = None, obt_tai_s: float | None = None, obt: str | None = None,
                   name: str | None = None, playback: bool = False) -> int:
        """Archive one space packet; its row id."""
        self._begin()
        cur = self._db.execute(
            "INSERT INTO packets(ert_ns, vcid, apid, seq, service, subtype, obt_tai_s, obt, name, data, playback) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (ert_ns, vcid, apid, seq, service, subtype, obt_tai_s, obt, name, data, int(playback)))
        return int(cur.lastrowid)

    def add_packets(self, rows: list[tuple[Any, ...]]) -> int:
        """Archive packets at once, in order: rows of (ert_ns, vcid, apid, seq, service, subtype, obt_tai_s, obt,
        name, data, playback), as :meth:`add_packet` takes them; the first one's row id (the others follow)."""
        self._begin()
        first = int(self._db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM packets").fetchone()[0])
        self._db.executemany(
            "INSERT INTO packets(id, ert_ns, vcid, apid, seq, service, subtype, obt_tai_s, obt, name, data, playback) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [(first + k, *r) for k, r in enumerate(rows)])
        return first

    def add_parameter_values(self, rows: list[tuple[Any, ...]]) -> int:
        """Archive parameter values as rows of (packet_id, name, raw, eng, unit, level, obt_tai_s, obt, ert_ns,
        playback), written at :meth:`commit`; how many."""
        self._begin()
        self._parameter_rows.extend(rows)
        return len(rows)

    def has_packet(self, apid: int, seq: int, data: bytes) -> bool:
        """Whether these very octets of ``apid`` with count ``seq`` are archived already."""
        return self._db.execute("SELECT 1 FROM packets WHERE apid = ? AND seq = ? AND data = ? LIMIT 1",
                                (apid, seq, data)).fetchone() is not None

    def add_parameters(self, rows: Iterable[ParameterRow], *, packet_id: int, ert_ns: int,
                       obt_tai_s: float | None, obt: str | None) -> None:
        """Archive the parameter values decoded from one packet (written at :meth:`commit`)."""
        self._begin()
        self._parameter_rows.extend(
            (packet_id, r.name, r.raw, r.eng, r.unit, int(r.level), obt_tai_s, obt, ert_ns, 0) for r in rows)

    def add_samples(self, samples: Iterable[Any], *, packet_id: int, ert_ns: int, obt_tai_s: float | None,
                    obt: str | None, playback: bool = False) -> int:
        """Archive decoded parameter samples (``name``, ``raw``, ``engineering``, ``unit``, ``level`` attributes,
        as :class:`protocol.mission.ParameterSample`) of one packet, written at :meth:`commit`; how many."""
        self._begin()
        rows = self._parameter_rows
        n = len(rows)
        pb = int(playback)
        rows.extend((packet_id, s.name, s.raw, s.engineering, s.unit, int(s.level), obt_tai_s, obt, ert_ns, pb)
                    for s in samples)
        return len(rows) - n

    def add_event(self, *, ert_ns: int, kind: str, name: str, severity: str, text: str, event_id: int | None = None,
                  obt: str | None = None, packet_id: int | None = None, data: Mapping[str, Any] | None = None
                  ) -> int:
        """Archive one event (kind: onboard, link, alarm or station); its row id."""
        self._begin()
        cur = self._db.execute(
            "INSERT INTO events(ert_ns, kind, name, severity, text, event_id, obt, packet_id, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (ert_ns, kind, name, severity, text, event_id, obt, packet_id,
             None if data is None else json.dumps(data, sort_keys=True)))
        return int(cur.lastrowid)

    def add_alarm(self, *, ert_ns: int, parameter: str, state: str, level: int, eng: int | float | str | None,
                  unit: str, obt: str | None, packet_id: int | None) -> int:
        """Archive one alarm transition (state 'raised', 'cleared' or 'withdrawn'); its row id."""
        self._begin()
        cur = self._db.execute(
            "INSERT INTO alarms(ert_ns, parameter, state, level, eng, unit, obt, packet_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (ert_ns, parameter, state, int(level), eng, unit, obt, packet_id))
        return int(cur.lastrowid)

    def withdraw_decoded(self, from_packet_id: int) -> dict[str, Any]:
        """Undo the decoding of every packet from ``from_packet_id`` on (service 1 excepted: its layouts are the
        standard's, not the dictionary's): their parameter values, on-board, alarm and detection events are deleted and the
        packets are left raw (``name`` NULL), as if decoded by a station that knew nothing. The packets
        themselves stay. Returns the counts and the standing alarms whose last transition came from those
        packets (parameter -> (level, packet_id)), for the caller to withdraw."""
        self._begin()
        self._write_buffered()
        db = self._db
        standing = {p: (int(level), int(pid)) for p, state, level, pid in db.execute(
            "SELECT parameter, state, level, packet_id FROM alarms "
            "WHERE id IN (SELECT MAX(id) FROM alarms GROUP BY parameter)")
            if state == "raised" and pid is not None and pid >= from_packet_id}
        suspect = "SELECT id FROM packets WHERE id >= ? AND (service IS NULL OR service != 1)"
        parameters = db.execute(f"DELETE FROM parameters WHERE packet_id IN ({suspect})", (from_packet_id,)).rowcount
        events = db.execute(f"DELETE FROM events WHERE kind IN ('onboard', 'alarm', 'detection') "
                            f"AND packet_id IN ({suspect})", (from_packet_id,)).rowcount
        packets = db.execute("UPDATE packets SET name = NULL WHERE id >= ? AND (service IS NULL OR service != 1) "
                             "AND name IS NOT NULL", (from_packet_id,)).rowcount
        return {"packets": packets, "parameters": parameters, "events": events, "alarms": standing}

    def add_command(self, *, submitted_ns: int, name: str, args: Mapping[str, Any], apid: int, seq: int, tc: bytes,
                    release_at: str | None = None, wrapper_apid: int | None = None, wrapper_seq: int | None = None,
                    source: str = "") -> int:
        """Record a command about to be sent; its command id."""
        self._begin()
        cur = self._db.execute(
            "INSERT INTO commands(submitted_ns, name, args, apid, seq, release_at, wrapper_apid, wrapper_seq, "
            "status, tc, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?)",
            (submitted_ns, name, json.dumps(dict(args), sort_keys=True), apid, seq, release_at, wrapper_apid,
             wrapper_seq, tc, source))
        return int(cur.lastrowid)

    def add_stage(self, command_id: int, *, stage: str, ok: bool, of: str, time_ns: int, code: int | None = None,
                  reason: str | None = None, obt: str | None = None, status: str | None = None) -> int:
        """Record one verification stage of a command (and its new status); the stage's row id."""
        self._begin()
        cur = self._db.execute(
            "INSERT INTO verification(command_id, stage, ok, of, code, reason, time_ns, obt) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (command_id, stage, int(ok), of, code, reason, time_ns, obt))
        if status is not None:
            self._db.execute("UPDATE commands SET status = ? WHERE id = ?", (status, command_id))
        return int(cur.lastrowid)

    def expire_cadus(self, *, before_ns: int | None = None, keep_rows: int | None = None,
                     batch: int = 20_000) -> int:
        """Delete the oldest raw CADUs: those received before ``before_ns`` and those beyond the newest
        ``keep_rows``, at most ``batch`` per call (so a large backlog costs many short calls, not one long
        stop); how many went. Rows are only ever deleted from the oldest end, so ids stay contiguous and
        the newest id minus the oldest counts them without a scan."""
        self._write_buffered()
        first, last = self._db.execute("SELECT MIN(id), MAX(id) FROM cadus").fetchone()
        if first is None:
            return 0
        upto = first - 1  # the newest id to delete
        if keep_rows is not None and last - first + 1 > keep_rows:
            upto = last - keep_rows
        if before_ns is not None:
            lo, hi = max(upto, first - 1), last  # bisect on the id: ERT grows with it
            while lo < hi:
                mid = (lo + hi + 1) // 2
                row = self._db.execute("SELECT ert_ns FROM cadus WHERE id >= ? ORDER BY id LIMIT 1",
                                       (mid,)).fetchone()
                if row is not None and row[0] < before_ns:
                    lo = mid
                else:
                    hi = mid - 1
            upto = max(upto, lo)
        upto = min(upto, first - 1 + batch)
        if upto < first:
            return 0
        self._begin()
        return int(self._db.execute("DELETE FROM cadus WHERE id <= ?", (upto,)).rowcount)

    def set_state(self, key: str, value: str) -> None:
        """Store one station state value."""
        self._begin()
        self._db.execute("INSERT INTO state(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = "
                         "excluded.value", (key, value))

    # ----------------------------------------------------------------- reads
    def state(self, key: str, default: str | None = None) -> str | None:
        """One station state value."""
        row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return default if row is None else str(row[0])

    def command_for_request(self, apid: int, seq: int) -> tuple[int, str] | None:
        """(command id, 'tc' or 'schedule') of the latest command whose TC or TC[11,4] wrapper had this request ID."""
        tc = self._db.execute("SELECT id FROM commands WHERE apid = ? AND seq = ? ORDER BY id DESC LIMIT 1",
                              (apid, seq)).fetchone()
        wrap = self._db.execute("SELECT id FROM commands WHERE wrapper_apid = ? AND wrapper_seq = ? "
                                "ORDER BY id DESC LIMIT 1", (apid, seq)).fetchone()
        # a newer command reusing the request ID (14-bit wrap) wins over an older one
        if tc is not None and (wrap is None or tc[0] > wrap[0]):
            return int(tc[0]), "tc"
        if wrap is not None:
            return int(wrap[0]), "schedule"
        return None

    def active_alarms(self) -> dict[str, int]:
        """Parameter -> level of every alarm raised and not cleared (the last transition per parameter)."""
        rows = self._db.execute(
            "SELECT parameter, state, level FROM alarms WHERE id IN (SELECT MAX(id) FROM alarms GROUP BY parameter)")
        return {p: int(level) for p, state, level in rows if state == "raised"}

    def count(self, table: str) -> int:
        """Rows in one table."""
        if table not in (*TABLES, "commands", "verification"):
            raise ValueError(f"table is {table!r}, allowed {', '.join((*TABLES, 'commands', 'verification'))}")
        self._write_buffered()
        return int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def _rows(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        self._write_buffered()
        cur = self._db.execute(sql, params)
        names = [d[0] for d in cur.description]
        out = []
        for values in cur:
            row = dict(zip(names, values, strict=True))
            if "ert_ns" in row:
                row["ert"] = iso_ns(row["ert_ns"])
            if isinstance(row.get("data"), bytes):
                row["data"] = row["data"].hex()
            out.append(row)
        return out

    @staticmethod
    def _where(clauses: list[str], params: list[Any], *, after_id: int | None, from_ns: int | None,
               to_ns: int | None, time_col: str = "ert_ns") -> None:
        if after_id is not None:
            clauses.append("id > ?")
            params.append(after_id)
        if from_ns is not None:
            clauses.append(f"{time_col} >= ?")
            params.append(from_ns)
        if to_ns is not None:
            clauses.append(f"{time_col} < ?")
            params.append(to_ns)

    def rows(self, table: str, *, names: Sequence[str] | None = None, from_ns: int | None = None,
             to_ns: int | None = None, after_id: int | None = None, limit: int = 1000, newest: bool = False,
             kind: str | None = None) -> list[dict[str, Any]]:
        """Rows of an exportable table by name (parameter, event or alarm name) and ERT range, oldest first.

        ``newest`` takes the last ``limit`` rows (still returned oldest first).
        """
        if table not in TABLES:
            raise ValueError(f"table is {table!r}, allowed {', '.join(TABLES)}")
        clauses: list[str] = []
        params: list[Any] = []
        if names:
            col = {"parameters": "name", "events": "name", "alarms": "parameter", "packets": "name"}.get(table)
            if col is None:
                raise ValueError(f"table {table} has no names to select")
            clauses.append(f"{col} IN ({','.join('?' * len(names))})")
            params.extend(names)
        if kind is not None and table == "events":
            clauses.append("kind = ?")
            params.append(kind)
        self._where(clauses, params, after_id=after_id, from_ns=from_ns, to_ns=to_ns)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        order = "DESC" if newest else "ASC"
        rows = self._rows(f"SELECT * FROM {table}{where} ORDER BY id {order} LIMIT ?", [*params, int(limit)])
        if newest:
            rows.reverse()
        for r in rows:
            if table == "events" and r.get("data") is not None:
                r["data"] = json.loads(r["data"])
        return rows

    def latest_parameters(self) -> list[dict[str, Any]]:
        """The newest value of every parameter ever received in real time (a retransmitted one is history), with
        ``interval_s``: the earth-receive spacing of its last two real-time values (None with only one)."""
        rows = self._rows("SELECT p.* FROM parameters p JOIN (SELECT name, MAX(id) AS id FROM parameters "
                          "WHERE playback = 0 GROUP BY name) m ON p.id = m.id ORDER BY p.name", ())
        for r in rows:
            prev = self._db.execute("SELECT ert_ns FROM parameters WHERE name = ? AND playback = 0 AND id < ? "
                                    "ORDER BY id DESC LIMIT 1", (r["name"], r["id"])).fetchone()
            r["interval_s"] = None if prev is None else max(0.0, (r["ert_ns"] - prev[0]) / 1e9)
        return rows

    def history(self, *, command_id: int | None = None, from_ns: int | None = None, to_ns: int | None = None,
                after_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Commands (newest ``limit``, oldest first) with their verification stages."""
        clauses: list[str] = []
        params: list[Any] = []
        if command_id is not None:
            clauses.append("id = ?")
            params.append(command_id)
        self._where(clauses, params, after_id=after_id, from_ns=from_ns, to_ns=to_ns, time_col="submitted_ns")
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        cmds = self._rows(f"SELECT id, submitted_ns, name, args, apid, seq, release_at, wrapper_apid, wrapper_seq, "
                          f"status, source FROM commands{where} ORDER BY id DESC LIMIT ?", [*params, int(limit)])
        cmds.reverse()
        for cmd in cmds:
            cmd["args"] = json.loads(cmd["args"])
            cmd["submitted"] = iso_ns(cmd["submitted_ns"])
            cmd["stages"] = self.stages(cmd["id"])
        return cmds

    def commands_in(self, statuses: Sequence[str], *, limit: int = 1000) -> list[dict[str, Any]]:
        """The oldest ``limit`` commands whose status is one of ``statuses``, with their stages and, for a
        time-tagged one, its release time in UTC nanoseconds (``release_ns``)."""
        rows = self._rows(f"SELECT id, submitted_ns, name, apid, seq, release_at, wrapper_apid, wrapper_seq, status "
                          f"FROM commands WHERE status IN ({','.join('?' * len(statuses))}) ORDER BY id LIMIT ?",
                          [*statuses, int(limit)])
        for cmd in rows:
            cmd["stages"] = self.stages(cmd["id"])
            rel = cmd.get("release_at")
            cmd["release_ns"] = None
            if rel:
                try:
                    dt = datetime.fromisoformat(rel.replace("Z", "+00:00"))
                    if dt.tzinfo is None:
                        dt = dt.replace(tzinfo=timezone.utc)
                    cmd["release_ns"] = int(dt.timestamp() * 1e9)
                except ValueError:
                    pass
        return rows

    def stages(self, command_id: int) -> list[dict[str, Any]]:
        """Verification stages of one command, in the order recorded."""
        rows = self._rows("SELECT stage, ok, of, code, reason, time_ns, obt FROM verification WHERE command_id = ? "
                          "ORDER BY id", (command_id,))
        for r in rows:
            r["ok"] = bool(r["ok"])
            r["time"] = iso_ns(r["time_ns"])
        return rows

    def iter_rows(self, table: str, *, names: Sequence[str] | None = None, from_ns: int | None = None,
                  to_ns: int | None = None, page: int = 5000) -> Iterator[dict[str, Any]]:
        """Every matching row of an exportable table, paged by id."""
        after: int | None = None
        while True:
            rows = self.rows(table, names=names, from_ns=from_ns, to_ns=to_ns, after_id=after, limit=page)
            yield from rows
            if len(rows) < page:
                return
            after = rows[-1]["id"]

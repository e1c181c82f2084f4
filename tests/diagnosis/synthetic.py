"""Synthetic incident folders, written in the real formats the parsers read.

`Logs(tmp_path)` collects lines for three files and writes them: an application log (Python
logging, one supabase-py `APIError` dict per failed request), PostgreSQL's stderr log
(`log_statement = 'ddl'` style `statement:` lines, errors with their `STATEMENT`), and
PostgREST v16 stderr. Times are UTC `datetime`s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

DAY = datetime(2026, 9, 1, tzinfo=UTC)


def at(hh: int, mm: int, ss: int = 0) -> datetime:
    return DAY.replace(hour=hh, minute=mm, second=ss)


@dataclass
class Logs:
    folder: Path
    app: list[str] = field(default_factory=list)
    db: list[str] = field(default_factory=list)
    pgrst: list[str] = field(default_factory=list)
    _pid: int = 4100

    # -- application --------------------------------------------------------------------------
    def failures(
        self, table: str, column: str, start: datetime, end: datetime, every: int = 60
    ) -> int:
        """One PGRST204 record every `every` seconds from `start` to `end` (inclusive)."""
        n, t = 0, start
        while t <= end:
            stamp = t.strftime("%Y-%m-%d %H:%M:%S") + f",{100 + n % 800:03d}"
            self.app.append(
                f"{stamp} ERROR app.writer: insert failed: {{'code': 'PGRST204', 'details': None, "
                f"'hint': None, 'message': \"Could not find the '{column}' column of '{table}' in "
                f'the schema cache"}}'
            )
            n += 1
            t += timedelta(seconds=every)
        return n

    # -- PostgreSQL ---------------------------------------------------------------------------
    def _db_prefix(self, t: datetime, pid: int | None = None) -> str:
        return f"{t.strftime('%Y-%m-%d %H:%M:%S')}.{t.microsecond // 1000:03d} UTC [{pid or self._pid}] migrator@app "

    def ddl(self, t: datetime, statement: str) -> None:
        self.db.append(self._db_prefix(t) + f"LOG:  statement: {statement}")

    def failed_ddl(self, t: datetime, statement: str, error: str) -> None:
        self.db.append(self._db_prefix(t) + f"LOG:  statement: {statement}")
        self.db.append(self._db_prefix(t) + f"ERROR:  {error}")
        self.db.append(self._db_prefix(t) + f"STATEMENT:  {statement}")

    def db_error(self, t: datetime, error: str, statement: str, hint: str | None = None) -> None:
        self.db.append(self._db_prefix(t, 5200) + f"ERROR:  {error}")
        if hint:
            self.db.append(self._db_prefix(t, 5200) + f"HINT:  {hint}")
        self.db.append(self._db_prefix(t, 5200) + f"STATEMENT:  {statement}")

    def notify(self, t: datetime, channel: str = "pgrst") -> None:
        self.db.append(self._db_prefix(t) + f"LOG:  statement: NOTIFY {channel}, 'reload schema';")

    # -- PostgREST ----------------------------------------------------------------------------
    def _pgrst(self, t: datetime, message: str) -> None:
        self.pgrst.append(f"{t.strftime('%d/%b/%Y:%H:%M:%S')} +0000: {message}")

    def postgrest_start(self, t: datetime, channel: str = "pgrst") -> None:
        self._pgrst(t, "Starting PostgREST 16.2...")
        self._pgrst(
            t,
            'Listener connected to PostgreSQL 16.4 on "db:5432" and listening for database '
            f'notifications on the "{channel}" channel',
        )
        self._pgrst(t, "Successfully connected to PostgreSQL 16.4 on x86_64-pc-linux-gnu")
        self.load(t)
        self._pgrst(t, "API server listening on 0.0.0.0:3000")

    def received(self, t: datetime, channel: str = "pgrst") -> None:
        self._pgrst(t, f'Received a schema cache reload message on the "{channel}" channel')

    def load(self, t: datetime) -> None:
        self._pgrst(t, "Schema cache queried in 9.8 milliseconds ")
        self._pgrst(
            t,
            "Schema cache loaded 12 Relations, 14 Relationships, 6 RPCs, 0 Domain "
            "Representations, 4 Media Type Handlers",
        )
        self._pgrst(t, "Schema cache loaded in 0.1 milliseconds")

    def listener_lost(self, t: datetime, channel: str = "pgrst") -> None:
        self._pgrst(
            t,
            f'Failed listening for database notifications on the "{channel}" channel. '
            "ERROR: could not access status of transaction 1234567",
        )
        self._pgrst(t, "Retrying listening for database notifications in 32 seconds...")

    # -- output -------------------------------------------------------------------------------
    def write(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        for name, lines in (
            ("app.log", self.app),
            ("postgres.log", self.db),
            ("postgrest.log", self.pgrst),
        ):
            if lines:
                (self.folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        return self.folder

"""Engine and sessions for SQLite (local) or PostgreSQL (production); schema by Alembic."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, threads: int = 10) -> Engine:
    """SQLite gets WAL, a busy timeout and real transactions so web and worker processes can share the file.
    `threads`: how many of this process's threads may hold a connection at once (the pool grows to it, then
    shrinks back to 5)."""
    overflow = max(5, threads - 5)
    if url.startswith("sqlite"):
        if "///" in url:
            Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, pool_size=5, max_overflow=overflow)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=overflow)


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]  # DBAPI objects are untyped
    """pysqlite's own transaction handling off (it BEGINs only before DML and lets a savepoint release commit):
    SQLAlchemy's documented recipe, with the BEGIN emitted by _sqlite_begin instead."""
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    """Every transaction starts here, before its first read: IMMEDIATE takes the write lock at once (waiting up
    to the busy timeout), so a read-then-write transaction never fails on a snapshot another writer made stale.
    A session of read_factory() only reads: a plain BEGIN, a WAL snapshot that waits for no writer."""
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


READ_ONLY = "kontor_read_only"


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def read_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that only read (a page, a status lookup, a scrape): on SQLite they never queue for the write lock."""
    return sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Bring the schema to the newest migration."""
    command.upgrade(alembic_config(url), "head")

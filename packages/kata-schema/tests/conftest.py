"""Fixtures: migration folders in tmp_path, kata.db initialized on a fresh database, and psql
and pg_dump as references.

What psql sends to the server is recorded by a loopback proxy: psql runs against it, and it
passes every byte on to the real server while keeping the frontend's Query messages (the
statements, exactly as psql's lexer cut them) and the COPY data that follows each
``COPY … FROM stdin``. This is the reference the splitter is held to.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

import kata.db
from kata_harness.plugin import TestDatabase


@pytest.fixture
def schema(tmp_path: Path) -> Path:
    """An empty migration folder."""
    folder = tmp_path / "schema"
    folder.mkdir()
    return folder


@pytest.fixture
def write(schema: Path) -> Callable[..., Path]:
    """Write migration files into ``schema``: ``write({'1-a.sql': 'SELECT 1;'})``."""

    def write(files: dict[str, str]) -> Path:
        for name, text in files.items():
            (schema / name).write_text(text, encoding="utf-8")
        return schema

    return write


@pytest.fixture
def db(database: Any) -> Iterator[Any]:
    """kata.db initialized on an empty database; closed afterwards."""
    kata.db.initialize(database.section)
    try:
        yield database
    finally:
        kata.db.close()


@pytest.fixture
def run(database: Any) -> Callable[[str], list[tuple[Any, ...]]]:
    """Run SQL on a connection of its own (not kata.db's) and return the rows."""
    return database.run  # type: ignore[no-any-return]


@pytest.fixture
def other_database(postgres_target: Any) -> Iterator[Any]:
    """A second empty database on the same server (TestDatabase), dropped afterwards."""
    name = f"kata_test_{uuid.uuid4().hex[:16]}"
    admin = postgres_target.dsn(postgres_target.admin_dbname)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield TestDatabase(postgres_target, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


PSQL = "/usr/bin/psql"
PG_DUMP = "/usr/bin/pg_dump"
_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104


@dataclass
class Sent:
    """One Query message psql sent, and the COPY data it streamed after it (None if none)."""

    text: str
    copy_data: bytes | None = None


@dataclass
class _Recording:
    sent: list[Sent] = field(default_factory=list)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("connection closed")
        data += chunk
    return data


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        try:
            target.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _serve(client: socket.socket, server_address: tuple[str, int], recording: _Recording) -> None:
    with client, socket.create_connection(server_address) as server:
        # Startup: refuse SSL/GSS encryption requests, then pass the startup message on.
        while True:
            (length,) = struct.unpack("!I", _read_exactly(client, 4))
            body = _read_exactly(client, length - 4)
            code = struct.unpack("!I", body[:4])[0]
            if code in (_SSL_REQUEST, _GSSENC_REQUEST):
                client.sendall(b"N")
                continue
            server.sendall(struct.pack("!I", length) + body)
            break
        answers = threading.Thread(target=_pump, args=(server, client), daemon=True)
        answers.start()
        try:
            while True:
                kind = _read_exactly(client, 1)
                (length,) = struct.unpack("!I", _read_exactly(client, 4))
                payload = _read_exactly(client, length - 4)
                if kind == b"Q":
                    recording.sent.append(Sent(payload[:-1].decode("utf-8")))
                elif kind == b"d":
                    last = recording.sent[-1]
                    last.copy_data = (last.copy_data or b"") + payload
                elif kind == b"c" and recording.sent[-1].copy_data is None:
                    recording.sent[-1].copy_data = b""
                server.sendall(kind + struct.pack("!I", length) + payload)
        except (ConnectionError, OSError):
            pass
        answers.join(timeout=5)


def psql_sends(path: Path, target: Any, dbname: str) -> list[Sent]:
    """Run ``psql -f path`` through a recording proxy; return what it sent, in order.

    Fails (AssertionError with psql's output) when psql reports an error, so a corpus file
    is known to run as written.
    """
    binary(PSQL)
    listener = socket.create_server(("127.0.0.1", 0))
    recording = _Recording()
    done = threading.Event()

    def accept() -> None:
        listener.settimeout(30)
        try:
            client, _ = listener.accept()
        except OSError:
            return
        try:
            _serve(client, (target.host, target.port), recording)
        finally:
            done.set()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    env = dict(os.environ, PGSSLMODE="disable", PGGSSENCMODE="disable", PGPASSWORD=target.password)
    try:
        result = subprocess.run(
            [
                PSQL,
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                str(listener.getsockname()[1]),
                "-U",
                target.user,
                "-d",
                dbname,
                "-f",
                str(path),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        done.wait(10)
    finally:
        listener.close()
        thread.join(timeout=10)
    assert result.returncode == 0, f"psql failed on {path}:\n{result.stdout}{result.stderr}"
    return recording.sent


def binary(path: str) -> str:
    """*path*, or a test failure saying how to install it."""
    if not os.access(path, os.X_OK):
        raise AssertionError(
            f"{path} is missing: install the PostgreSQL client (apt-get install postgresql-client)"
        )
    return path


def pg_dump(database: Any, *options: str, keep_restrict: bool = False) -> str:
    """pg_dump's plain output for *database* (a TestDatabase), without the tracking table and
    the random \\restrict keys, so two databases built the same way give the same text."""
    target = database.target
    result = subprocess.run(
        [
            binary(PG_DUMP),
            "-h",
            target.host,
            "-p",
            str(target.port),
            "-U",
            target.user,
            "-T",
            "public.kata_migrations",
            *options,
            database.name,
        ],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, PGPASSWORD=target.password),
    )
    assert result.returncode == 0, result.stderr
    if keep_restrict:
        return result.stdout
    return "".join(
        line
        for line in result.stdout.splitlines(keepends=True)
        if not line.startswith(("\\restrict", "\\unrestrict"))
    )


@pytest.fixture(name="psql_sends")
def psql_sends_fixture() -> Callable[..., list[Sent]]:
    """``psql_sends(path, target, dbname)``: what ``psql -f path`` sent, in order."""
    return psql_sends


@pytest.fixture(name="pg_dump")
def pg_dump_fixture() -> Callable[..., str]:
    """``pg_dump(database, *options)``: pg_dump's plain output, comparable between databases."""
    return pg_dump

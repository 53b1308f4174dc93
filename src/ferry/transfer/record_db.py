"""Part records in a shared SQL database (the migration service's): a worker that dies in the middle of a
large object leaves its confirmed parts in rows any other worker can read, so the object is resumed from
them, not restarted.

The header and every part are rows carrying their own SHA-256, as the lines of a record file do, so damage
is noticed the same way. Each write runs in one transaction with the caller's ``fence``: the service passes
a check that the chunk this object belongs to is still held by this attempt, so a worker that was presumed
dead and wakes up cannot write into a record a newer attempt now owns (:mod:`ferry.tasks.chunks`). A slot's
``lock`` is a no-op for the same reason: in the service an object is only ever moved by the one live
attempt of its chunk.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
)

from ferry.storage.base import PartResult
from ferry.transfer.record import (
    PartRecord,
    RecordHeader,
    RecordSlot,
    decode_entry,
    encode_entry,
    header_from,
    part_from,
    record_digest,
)

METADATA = MetaData()

PART_RECORDS = Table(
    "ferry_part_records",
    METADATA,
    Column("id", String(40), primary_key=True),
    Column("header", Text, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("updated", Float, nullable=False),
)

PARTS = Table(
    "ferry_parts",
    METADATA,
    Column(
        "record_id", String(40), ForeignKey("ferry_part_records.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("entry", Text, nullable=False),
    Column("digest", String(64), nullable=False),
)

Fence = Callable[[Connection], None]
"""Called inside every write transaction; raises to refuse the write (and roll it back)."""


class DbRecordSlot:
    def __init__(self, engine: Engine, record_id: str, fence: Fence | None) -> None:
        self.engine = engine
        self.record_id = record_id
        self.name = f"db:{record_id}"
        self._fence = fence

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction that first passes the fence."""
        with self.engine.begin() as connection:
            if self._fence is not None:
                self._fence(connection)
            yield connection

    def lock(self) -> None:
        """Exclusive by the chunk's lease (see the module's docstring)."""

    def release(self, *, finished: bool) -> None:
        del finished

    def create(self, header: RecordHeader) -> PartRecord:
        text, digest = encode_entry(asdict(header))
        with self._write() as connection:
            self._delete(connection)
            connection.execute(
                insert(PART_RECORDS).values(
                    id=self.record_id, header=text, digest=digest, updated=time.time()
                )
            )
        return PartRecord(self, header, {})

    def load(self) -> PartRecord | None:
        with self.engine.begin() as connection:
            row = connection.execute(
                select(PART_RECORDS).where(PART_RECORDS.c.id == self.record_id)
            ).one_or_none()
            if row is None:
                return None
            lines = connection.execute(
                select(PARTS.c.entry, PARTS.c.digest).where(PARTS.c.record_id == self.record_id)
            ).all()
        header = header_from(decode_entry(row.header, row.digest, self.name), self.name)
        parts: dict[int, PartResult] = {}
        for entry, digest in lines:
            part = part_from(decode_entry(entry, digest, self.name), self.name)
            parts[part.number] = part
        return PartRecord(self, header, parts)

    def append(self, part: PartResult) -> None:
        text, digest = encode_entry({"n": part.number, "etag": part.etag, "checksum": part.checksum})
        with self._write() as connection:
            connection.execute(
                delete(PARTS).where(PARTS.c.record_id == self.record_id, PARTS.c.number == part.number)
            )
            connection.execute(
                insert(PARTS).values(record_id=self.record_id, number=part.number, entry=text, digest=digest)
            )

    def close(self) -> None:
        pass

    def discard(self) -> None:
        with self._write() as connection:
            self._delete(connection)

    def _delete(self, connection: Connection) -> None:
        connection.execute(delete(PARTS).where(PARTS.c.record_id == self.record_id))
        connection.execute(delete(PART_RECORDS).where(PART_RECORDS.c.id == self.record_id))

    def peek_upload_id(self) -> str | None:
        with self.engine.begin() as connection:
            text = connection.execute(
                select(PART_RECORDS.c.header).where(PART_RECORDS.c.id == self.record_id)
            ).scalar_one_or_none()
        try:
            value = json.loads(text) if text else None
        except ValueError:
            return None
        upload_id = value.get("upload_id") if isinstance(value, dict) else None
        return upload_id if isinstance(upload_id, str) else None

    def written_at(self) -> float | None:
        with self.engine.begin() as connection:
            updated = connection.execute(
                select(PART_RECORDS.c.updated).where(PART_RECORDS.c.id == self.record_id)
            ).scalar_one_or_none()
        return float(updated) if updated is not None else None


@dataclass(frozen=True)
class DbRecordStore:
    """Part records as rows of ``engine``'s database, each write passing ``fence``."""

    engine: Engine
    fence: Fence | None = None

    def slot(self, kind: str, source_id: str, destination_id: str) -> RecordSlot:
        return DbRecordSlot(self.engine, record_digest(kind, source_id, destination_id), self.fence)

"""Upgrading a per-task journal written by ferry before journals moved to SQLAlchemy (schema 1: tables
``task`` and ``objects``), so a task begun by the older ferry is still recovered by this one.

The upgrade runs inside the transaction that opens the journal: the new tables are filled from the old
ones, the old ones dropped, and a crash part-way leaves the old journal as it was.
"""

from __future__ import annotations

import json

from sqlalchemy import Connection, insert

from ferry.errors import FerryError
from ferry.tasks import journal as j
from ferry.tasks.settings import TaskSettings

_OLD_SCHEMA = 1


def upgrade_v1(connection: Connection, task_id: str) -> None:
    from ferry.tasks.plan import plan_for_locations

    row = connection.exec_driver_sql(
        "SELECT id, kind, source, destination, options, created, updated, state, listing_complete, "
        "schema_version FROM task"
    ).one()
    if row[0] != task_id or row[9] != _OLD_SCHEMA:
        raise j.JournalDamagedError(f"the journal of task {task_id} has an unknown format")
    try:
        options = json.loads(row[4])
        settings = TaskSettings.from_options(options)
        plan = plan_for_locations(row[2], row[3], url_list=bool(options.get("url_list")))
    except (ValueError, TypeError, FerryError):
        raise j.JournalDamagedError(f"the journal of task {task_id} is damaged (its options)") from None
    j.METADATA.create_all(connection)
    settings_text, plan_text = settings.to_json(), json.dumps(plan, sort_keys=True)
    connection.execute(
        insert(j.TASKS).values(
            id=task_id,
            kind=row[1],
            source=row[2],
            destination=row[3],
            settings=settings_text,
            plan=plan_text,
            digest=j._task_digest(task_id, row[1], row[2], row[3], settings_text, plan_text),
            created=row[5],
            updated=row[6],
            state=row[7],
            listing_complete=bool(row[8]),
            next_seq=1,
            schema_version=j.SCHEMA_VERSION,
        )
    )
    builder = j._ChunkBuilder(j.ChunkPolicy(), None)
    last_seq = 0
    cursor = connection.exec_driver_sql(
        "SELECT seq, source_key, dest_key, size, mtime, etag, state, reason, transferred, attempts, updated "
        "FROM objects ORDER BY seq"
    )
    page: list[dict[str, object]] = []
    for seq, source_key, dest_key, size, mtime, etag, state, reason, moved, attempts, updated in cursor:
        planned = j.PlannedObject(source_key, dest_key, size, float(mtime), etag)
        chunk = builder.place(size)
        page.append(
            {
                "task_id": task_id,
                "seq": seq,
                "source_hash": j._source_hash(source_key),
                "source_key": source_key,
                "dest_key": dest_key,
                "size": size,
                "mtime": float(mtime),
                "etag": etag,
                "chunk": chunk,
                "plan_digest": j._plan_digest(planned, chunk),
                "state": state,
                "reason": reason,
                "state_digest": j._state_digest(state, reason),
                "transferred": moved,
                "attempts": attempts,
                "updated": updated,
            }
        )
        last_seq = seq
        if len(page) >= j.PAGE:
            connection.execute(insert(j.OBJECTS), page)
            page.clear()
    if page:
        connection.execute(insert(j.OBJECTS), page)
    if row[8]:
        builder._close()
    builder.save(connection, task_id, float(row[6]))
    connection.exec_driver_sql(f"UPDATE ferry_tasks SET next_seq = {int(last_seq) + 1}")  # noqa: S608
    connection.exec_driver_sql("DROP TABLE objects")
    connection.exec_driver_sql("DROP TABLE task")

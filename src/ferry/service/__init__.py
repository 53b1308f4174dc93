"""The migration service: an OMS-style REST API over ferry's task engine.

The HTTP layer (:mod:`.app`, :mod:`.api_groups`, :mod:`.api_tasks`) only validates, stores and schedules;
:mod:`.worker` runs each task through the very runner and journal that ``ferry cp -r`` uses
(:mod:`ferry.tasks.runner`, :mod:`ferry.tasks.journal`). State lives in a database (:mod:`.db`, SQLite by
default, PostgreSQL on request, its schema migrated by Alembic at start-up); credentials live only in the
memory of the running service (:mod:`.vault`).

Nothing here is imported by ``ferry cp``: the CLI imports the service lazily, inside its commands.
"""

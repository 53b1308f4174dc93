"""Credentials, held only in the memory of the running service.

They arrive with a create, a start or a retry, and are never written anywhere: not to the database, a
journal, a report or a log, and never returned. ``repr`` hides them, so an accidental log line cannot
show them either. After a restart the vault is empty: groups that were running fail with
:data:`NO_CREDENTIALS_REASON` until a retry supplies the keys again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

NO_CREDENTIALS_REASON = "credentials not available after restart"


@dataclass(frozen=True)
class NodeSecrets:
    """What one side needs to authenticate: AK/SK for S3-compatible stores; a connection string (Azure
    Blob), a JSON key file (Google Cloud Storage) or a CDN key for the other kinds of source."""

    ak: str | None = field(default=None, repr=False)
    sk: str | None = field(default=None, repr=False)
    connection_string: str | None = field(default=None, repr=False)
    json_auth_file: str | None = field(default=None, repr=False)
    cdn_key: str | None = field(default=None, repr=False)

    def merged(self, newer: NodeSecrets) -> NodeSecrets:
        """These secrets with every value ``newer`` gives replacing the old one."""
        changes = {name: value for name, value in vars(newer).items() if value}
        return replace(self, **changes)


@dataclass(frozen=True)
class GroupSecrets:
    source: NodeSecrets = field(default_factory=NodeSecrets)
    destination: NodeSecrets = field(default_factory=NodeSecrets)

    def merged(self, newer: GroupSecrets) -> GroupSecrets:
        return GroupSecrets(self.source.merged(newer.source), self.destination.merged(newer.destination))


class Vault:
    """Group id -> its secrets; thread-safe."""

    def __init__(self) -> None:
        self._secrets: dict[str, GroupSecrets] = {}
        self._lock = threading.Lock()

    def get(self, group_id: str) -> GroupSecrets | None:
        with self._lock:
            return self._secrets.get(group_id)

    def put(self, group_id: str, secrets: GroupSecrets) -> None:
        with self._lock:
            self._secrets[group_id] = secrets

    def merged(self, group_id: str, newer: GroupSecrets) -> GroupSecrets:
        """What the group's secrets would be with ``newer`` applied (the vault is not changed)."""
        with self._lock:
            return self._secrets.get(group_id, GroupSecrets()).merged(newer)

    def forget(self, group_id: str) -> None:
        with self._lock:
            self._secrets.pop(group_id, None)

    def __repr__(self) -> str:
        return f"Vault({len(self._secrets)} groups)"

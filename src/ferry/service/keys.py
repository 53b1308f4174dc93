"""Access keys (AK/SK) for requests signed as Huawei Cloud's SDKs sign them.

``ferry key create --project P`` issues a pair: the access key (20 characters, not secret) and the secret
key (40 characters), printed once. Checking a signature needs the secret itself, so it cannot be stored as
a hash like a token: it is *sealed* — AES-256-GCM under the seal key, a random 32-byte file
(``seal.key``, mode 0600) in the service's data directory, bound to the access key it belongs to. The
database alone gives away nothing; a service whose database is shared by several machines needs the same
seal key file on each.
"""

from __future__ import annotations

import base64
import os
import secrets
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select

from ferry.errors import FerryError
from ferry.service.db import AccessKey, Database, now

SEAL_FILE = "seal.key"
_AK_ALPHABET = string.ascii_uppercase + string.digits
_SK_ALPHABET = string.ascii_letters + string.digits


class Sealer:
    """Seals and unseals secrets with the data directory's seal key (created on first use)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / SEAL_FILE
        self._aead: AESGCM | None = None

    def _cipher(self) -> AESGCM:
        if self._aead is None:
            self._aead = AESGCM(self._key())
        return self._aead

    def _key(self) -> bytes:
        try:
            key = self.path.read_bytes()
        except FileNotFoundError:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it meanwhile
                key = self.path.read_bytes()
            else:
                key = secrets.token_bytes(32)
                with os.fdopen(fd, "wb") as out:
                    out.write(key)
        if len(key) != 32:
            raise FerryError(f"the seal key {self.path} is damaged (it must be 32 bytes)")
        return key

    def seal(self, secret: str, bound_to: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._cipher().encrypt(nonce, secret.encode("utf-8"), bound_to.encode("utf-8"))
        return base64.b64encode(nonce + sealed).decode("ascii")

    def unseal(self, text: str, bound_to: str) -> str | None:
        """The secret, or ``None`` when it was sealed under another seal key (or altered)."""
        try:
            raw = base64.b64decode(text)
            return self._cipher().decrypt(raw[:12], raw[12:], bound_to.encode("utf-8")).decode("utf-8")
        except (InvalidTag, ValueError):
            return None


@dataclass(frozen=True)
class IssuedKey:
    access_key: str
    project_id: str
    secret_key: str
    """Shown once, stored only sealed."""


def create_key(database: Database, sealer: Sealer, project_id: str) -> IssuedKey:
    if not 1 <= len(project_id) <= 1024 or "/" in project_id:
        raise ValueError("a project id is 1 to 1024 characters, without '/'")
    access_key = "".join(secrets.choice(_AK_ALPHABET) for _ in range(20))
    secret_key = "".join(secrets.choice(_SK_ALPHABET) for _ in range(40))
    row = AccessKey(
        id=access_key,
        project_id=project_id,
        sealed_secret=sealer.seal(secret_key, access_key),
        created_at=now(),
    )
    with database.session() as session:
        session.add(row)
    return IssuedKey(access_key, project_id, secret_key)


def list_keys(database: Database, project_id: str | None = None) -> list[dict[str, Any]]:
    with database.session() as session:
        query = select(AccessKey).order_by(AccessKey.created_at)
        if project_id is not None:
            query = query.where(AccessKey.project_id == project_id)
        return [
            {"access_key": k.id, "project_id": k.project_id, "created_at": k.created_at}
            for k in session.scalars(query)
        ]


def remove_key(database: Database, access_key: str) -> bool:
    with database.session() as session:
        row = session.get(AccessKey, access_key)
        if row is None:
            return False
        session.delete(row)
        return True


def lookup(database: Database, sealer: Sealer, access_key: str) -> tuple[str, str] | None:
    """The project and secret key of an access key, or ``None`` when it is unknown (or unreadable)."""
    if not 1 <= len(access_key) <= 64:
        return None
    with database.session() as session:
        row = session.get(AccessKey, access_key)
        if row is None:
            return None
        project_id, sealed = row.project_id, row.sealed_secret
    secret = sealer.unseal(sealed, access_key)
    return None if secret is None else (project_id, secret)

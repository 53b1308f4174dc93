"""ferry: resumable transfers into, out of and between object stores.

The library API::

    import ferry
    result = ferry.resumable_upload("big.iso", "s3://bucket/big.iso", num_threads=8)
    print(result.transferred, "bytes moved by this run")

Every transfer can be interrupted and run again: it resumes from its part record.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ferry.api import resumable_copy, resumable_download, resumable_upload
    from ferry.config import Config, RemoteConfig, load_config
    from ferry.errors import FerryError
    from ferry.transfer.engine import TransferResult

_HOMES = {
    "resumable_copy": "ferry.api",
    "resumable_download": "ferry.api",
    "resumable_upload": "ferry.api",
    "Config": "ferry.config",
    "RemoteConfig": "ferry.config",
    "load_config": "ferry.config",
    "FerryError": "ferry.errors",
    "TransferResult": "ferry.transfer.engine",
}

__all__ = [
    "Config",
    "FerryError",
    "RemoteConfig",
    "TransferResult",
    "load_config",
    "resumable_copy",
    "resumable_download",
    "resumable_upload",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """The API's names, imported when first used: ``ferry --version`` and the service's processes need
    none of them (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'ferry' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)

"""ferry: resumable transfers into, out of and between object stores.

The library API::

    import ferry
    result = ferry.resumable_upload("big.iso", "s3://bucket/big.iso", num_threads=8)
    print(result.transferred, "bytes moved by this run")

Every transfer can be interrupted and run again: it resumes from its part record.
"""

from ferry.api import resumable_copy, resumable_download, resumable_upload
from ferry.config import Config, RemoteConfig, load_config
from ferry.errors import FerryError
from ferry.transfer.engine import TransferResult

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

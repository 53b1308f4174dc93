"""The listener of a quiet transfer: no progress, only notices. Apart from the progress bars so that a quiet
command does not load the terminal library."""

from __future__ import annotations

import sys

from ferry.display import shown
from ferry.transfer.events import TransferListener


class QuietListener(TransferListener):
    """Only notices, on standard error."""

    def notice(self, message: str) -> None:
        print(f"ferry: note: {shown(message)}", file=sys.stderr, flush=True)

"""The listener of a quiet transfer: no progress, only notices. Apart from the progress bars so that a quiet
command does not load the terminal library."""

from __future__ import annotations

import sys

from ferry.display import shown, write_line
from ferry.transfer.events import TransferListener


class QuietListener(TransferListener):
    """Only notices, on standard error."""

    def notice(self, message: str) -> None:
        write_line(f"ferry: note: {shown(message)}", sys.stderr)

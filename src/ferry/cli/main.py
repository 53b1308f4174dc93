"""The ``ferry`` command line's entry point. Errors become one line on standard error and an exit code, in
one place (:func:`main`); the engine underneath never prints.

A plain ``ferry cp SOURCE DESTINATION [options]`` is read by :mod:`ferry.cli.cp_args` and run without
importing Typer (a third of a one-object command's start); everything else, and anything that parser is not
sure of, goes through the Typer app (:mod:`ferry.cli.app`)."""

from __future__ import annotations

import os
import signal
import sys

from ferry.cli.cp_args import plain_cp
from ferry.cli.obsutil_args import translate
from ferry.errors import FerryError, InterruptedTransfer

EXIT_INTERRUPTED = InterruptedTransfer.exit_code


def print_error(message: str, code: int) -> int:
    """Print ``message`` as ferry's one error line; return ``code``."""
    from ferry.display import shown

    print(f"ferry: error: {shown(message)}", file=sys.stderr, flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code: 0 ok, 1 not found, 2 no such task, 3 bad arguments,
    4 bucket missing or access denied, 5 credentials, 6 transfer failed, 7 unsupported, 9 interrupted."""
    try:
        args = translate(sys.argv[1:] if argv is None else argv)  # obsutil's spellings of cp's options
        values = plain_cp(args)
        if values is not None:
            from ferry.cli.copy import copy

            copy(**values)
            return 0
        from ferry.cli.app import run_app

        return run_app(args)
    except InterruptedTransfer as exc:
        return print_error(f"{exc.message}; run the same command again to resume", exc.exit_code)
    except FerryError as exc:
        return print_error(exc.message, exc.exit_code)
    except KeyboardInterrupt:
        return print_error("interrupted; run the same command again to resume", EXIT_INTERRUPTED)
    except BrokenPipeError:
        return 0


def run() -> None:
    """Console-script entry point. A second Ctrl-C, or a SIGTERM, ends the process at once: every state
    ferry keeps on disk is crash-safe, so nothing is lost by not waiting for parts in flight."""
    signal.signal(signal.SIGTERM, lambda *_: os._exit(EXIT_INTERRUPTED))
    # Python leaves SIGINT ignored when it started ignored (a background job of a script): Ctrl-C and
    # `kill -INT` should still stop a transfer cleanly.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

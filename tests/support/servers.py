"""Starting the real servers the tests use, through their scripts under scripts/: each script is idempotent
(it reuses a healthy server) and prints its env file, ``NAME=value`` lines, on start."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


def parse_env(text: str) -> dict[str, str]:
    """``NAME=value`` lines; a value in single quotes loses them."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == "'":
                value = value[1:-1]
            values[key.strip()] = value
    return values


def start_server(script: str, steps: Sequence[tuple[str, float]] = (("start", 300),)) -> dict[str, str]:
    """Run ``scripts/<script>`` with each ``(step, timeout)`` (the last one ``start``); its env values.
    RuntimeError, with the script's own output, when a step fails."""
    stdout = ""
    for step, timeout in steps:
        done = subprocess.run(
            ["bash", str(REPO / "scripts" / script), step], capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise RuntimeError(f"scripts/{script} {step} failed:\n{done.stderr[-3000:]}")
        stdout = done.stdout
    return parse_env(stdout)

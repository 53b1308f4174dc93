"""The faults a campaign injects, drawn from its seeded random source.

Network faults are rules of the loopback fault proxy (tests/support/faultproxy.py) between ferry and the
store: each one fires on one request, after a seeded number of matching requests went through untouched.
Process faults are signals to the running ferry process (or the service) at a seeded moment. Damage faults
flip bytes of a task journal or a part record between two runs. The disk-full fault puts a download's
destination on a small tmpfs; the server restart kills and restarts a private radosgw mid-transfer.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.faultproxy import Rule

#: Every kind a campaign can inject, in the order the report lists them.
KINDS = (
    "reset_request",
    "reset_response",
    "status_503",
    "status_500",
    "stall",
    "drop_complete",
    "sigkill",
    "sigstop",
    "service_kill",
    "worker_kill",
    "worker_pause",
    "journal_flip",
    "record_flip",
    "disk_full",
    "server_restart",
)

NETWORK = ("reset_request", "reset_response", "status_503", "status_500", "stall")


def network_rule(kind: str, rng: random.Random, method: str, path: str | None, requests: int) -> Rule:
    """One network fault on a data request (``method``, ``path`` filter), after a seeded number of them."""
    skip = rng.randrange(max(1, requests))
    if kind == "status_503":
        return Rule("status", method, path, times=1, skip=skip, status=503, code="SlowDown", name=kind)
    if kind == "status_500":
        return Rule("status", method, path, times=1, skip=skip, status=500, code="InternalError", name=kind)
    if kind == "stall":
        return Rule("stall", method, path, times=1, skip=skip, seconds=4.0, name=kind)
    return Rule(kind, method, path, times=1, skip=skip, name=kind)


@dataclass
class ProcessFault:
    kind: str  # sigkill | sigstop | server_restart | service_kill | worker_kill | worker_pause
    delay: float
    pause: float = 0.0


def deliver(proc: subprocess.Popen[bytes], fault: ProcessFault) -> bool:
    """Signal ``proc`` (its whole process group) if it still runs; whether the fault landed."""
    if proc.poll() is not None:
        return False
    if fault.kind == "sigstop":
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGSTOP)
            time.sleep(fault.pause)
            os.killpg(proc.pid, signal.SIGCONT)
        return True
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    return True


def flip_bytes(path: Path, rng: random.Random, count: int) -> list[int]:
    """Flip one bit in each of ``count`` distinct seeded bytes of ``path`` (in place); the offsets."""
    size = path.stat().st_size
    if size == 0:
        return []
    offsets = sorted(rng.sample(range(size), min(count, size)))
    with open(path, "r+b") as handle:
        for offset in offsets:
            handle.seek(offset)
            byte = handle.read(1)[0]
            handle.seek(offset)
            handle.write(bytes([byte ^ (1 << rng.randrange(8))]))
    return offsets


def flip_record_line(path: Path, rng: random.Random) -> bool:
    """Flip one bit of a part record's text (a line's JSON or its checksum); False for an empty record."""
    data = bytearray(path.read_bytes())
    if not data:
        return False
    offset = rng.randrange(len(data))
    if data[offset] == 0x0A:  # keep the line structure: a flipped newline is a different fault
        offset = max(0, offset - 1)
    data[offset] ^= 1 << rng.randrange(7)
    path.write_bytes(bytes(data))
    return True


class Tmpfs:
    """A small tmpfs mounted for one run (the disk-full fault), grown when the fault is "fixed"."""

    def __init__(self, path: Path, size_mib: int) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", str(path)], check=True)

    def grow(self, size_mib: int) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size_mib}m", str(self.path)], check=True)

    def remove(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False)
        with contextlib.suppress(OSError):
            self.path.rmdir()


class PrivateRgw:
    """A radosgw of the campaign's own (scripts/rgw.sh with its own run dir and port; the shared server is
    never touched): the storage-server restart fault kills it and starts it again on the same cluster."""

    def __init__(self, run_dir: Path, port: int) -> None:
        self.run_dir = run_dir
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "FERRY_RGW_DIR": str(self.run_dir),
            "FERRY_RGW_PORT": str(self.port),
            "FERRY_RGW_MEM_BYTES": str(2 * 1024**3),
        }

    def start(self) -> None:
        script = Path(__file__).resolve().parents[2] / "scripts" / "rgw.sh"
        done = subprocess.run(
            ["bash", str(script), "start"], env=self.env(), capture_output=True, timeout=300
        )
        if done.returncode != 0:
            raise RuntimeError(f"private RGW did not start: {done.stderr.decode()[-500:]}")

    def stop(self) -> None:
        script = Path(__file__).resolve().parents[2] / "scripts" / "rgw.sh"
        subprocess.run(["bash", str(script), "stop"], env=self.env(), capture_output=True, timeout=300)

    def restart(self, pause: float) -> None:
        """SIGKILL radosgw (no shutdown code runs), wait ``pause`` seconds, start it again and wait until it
        answers."""
        pid_file = self.run_dir / "run" / "client.rgw.pid"
        pid = int(pid_file.read_text().strip())
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        if self.proc is not None:  # our own child: reap it
            self.proc.wait(30)
        for _ in range(200):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.05)
        time.sleep(pause)
        log = open(self.run_dir / "log" / "client.rgw.out", "ab")  # noqa: SIM115 (the daemon keeps it)
        proc = subprocess.Popen(
            ["radosgw", "-c", str(self.run_dir / "ceph.conf"), "-n", "client.rgw", "-f"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self.proc = proc
        pid_file.write_text(f"{proc.pid}\n")
        import urllib.error
        import urllib.request

        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with opener.open(self.endpoint, timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # an answer (403) is an answer
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("private radosgw did not answer 60 s after its restart")

"""One labeling run per output directory at a time.

Two runs started into one output (a double submit) would each label every chunk: the output stays
exactly-once, but all the teacher work is done twice. A run therefore holds a *lease*,
``_lease.json`` (host, pid, start time, a token), which it renews every ``RENEW_S`` seconds while it
runs and removes when it ends. Another run refuses to start while the lease is live, naming the
holder; it takes over a lease whose holder is gone: a process of this host that no longer exists,
or a lease not renewed for ``STALE_S`` seconds (a run on another host that was killed).

Object stores have no create-if-absent here, so two runs started within the same second could both
take the lease; each then re-reads it after writing and only the one whose token is there goes on.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from .. import io
from ..errors import ConfigError
from ..progress import log

LEASE = "_lease.json"
RENEW_S = 15.0
STALE_S = 90.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def holder_gone(lease: dict[str, Any], now: float | None = None) -> bool:
    """Whether the run that wrote ``lease`` is over (its lease may be taken over)."""
    now = time.time() if now is None else now
    if lease.get("host") == socket.gethostname() and not _pid_alive(int(lease.get("pid", -1))):
        return True
    return now - float(lease.get("renewed_at", 0.0)) > STALE_S


class Lease:
    """``with Lease(output_dir):`` holds the output's lease for the block (see the module docstring)."""

    def __init__(self, output_dir: str, stage: str = "label"):
        self.path = io.join(output_dir, LEASE)
        self.stage = stage
        self.token = uuid.uuid4().hex
        self.started_at = time.time()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _record(self) -> dict[str, Any]:
        return {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": self.started_at,
            "started": datetime.fromtimestamp(self.started_at, timezone.utc).isoformat(timespec="seconds"),
            "renewed_at": time.time(),
            "token": self.token,
        }

    def _read(self) -> dict[str, Any] | None:
        try:
            return io.read_json(self.path) if io.exists(self.path) else None
        except (ValueError, OSError):  # a torn or vanished lease: nobody holds it
            return None

    def _refuse(self, held: dict[str, Any]) -> None:
        raise ConfigError(
            f"{self.stage}: {io.parent(self.path)} is being written by another run (host {held.get('host')}, "
            f"pid {held.get('pid')}, started {held.get('started')}); wait for it or stop it, or use "
            f"another output_dir (a killed run's lease is taken over after {STALE_S:.0f} s)"
        )

    def acquire(self) -> None:
        held = self._read()
        if held and held.get("token") != self.token and not holder_gone(held):
            self._refuse(held)
        if held:
            log(
                self.stage,
                f"taking over the lease of a run that is gone (host {held.get('host')}, pid {held.get('pid')})",
            )
        io.write_json(self.path, self._record())
        time.sleep(0.05)
        now = self._read()
        if now and now.get("token") != self.token:  # another run took it in the same instant
            self._refuse(now)
        self._thread = threading.Thread(target=self._renew, name="bert2dnn-lease", daemon=True)
        self._thread.start()

    def _renew(self) -> None:
        while not self._stop.wait(RENEW_S):
            try:
                io.write_json(self.path, self._record())
            except Exception as e:  # noqa: BLE001 - a missed renewal only ages the lease
                log(self.stage, f"could not renew the lease ({type(e).__name__}); retrying")

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        held = self._read()
        if held and held.get("token") == self.token:
            io.remove(self.path)

    def __enter__(self) -> Lease:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

"""What a person reads while a stage runs: one progress line per event on stderr, and the rate and
time left of a long loop (rows done / rows total)."""

from __future__ import annotations

import sys
import time

_T0 = time.monotonic()


def log(stage: str, msg: str) -> None:
    """Progress line on stderr: elapsed seconds, stage, message."""
    print(f"[{time.monotonic() - _T0:7.1f}s] {stage:>9} | {msg}", file=sys.stderr, flush=True)


def duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``2h07m``: a time left or taken, for a person."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class Eta:
    """Work done of a known total: ``done/total rows (pct), rate rows/s, about T left`` (or another unit).

    The rate is this run's (rows done since it started); a resumed run counts only what it does
    itself, so the time left is not flattered by work a previous run did.
    """

    def __init__(self, total: int, done_before: int = 0, unit: str = "rows", clock=time.monotonic):
        self.total, self.done, self.unit, self._clock = int(total), int(done_before), unit, clock
        self._start, self._base = clock(), int(done_before)

    def update(self, n: int) -> str:
        """Count ``n`` more done; return the progress text."""
        self.done += int(n)
        return self.text()

    def text(self) -> str:
        el = self._clock() - self._start
        rate = (self.done - self._base) / el if el > 0 else 0.0
        pct = 100.0 * self.done / self.total if self.total else 100.0
        left = (self.total - self.done) / rate if rate > 0 else None
        tail = f", about {duration(left)} left" if left is not None and self.done < self.total else ""
        u = self.unit
        return (
            f"{self.done:,}/{self.total:,} {u} ({pct:.0f}%), {rate:,.{0 if rate >= 10 else 2}f} {u}/s{tail}"
        )


def peak_rss_bytes() -> int | None:
    """This process's peak resident memory so far (None where the OS does not say).

    On Linux, ``VmHWM`` of this program: ``ru_maxrss`` would carry over, across ``exec``, the
    resident memory of the process that forked it (a 1 GiB parent makes every child "peak" at 1 GiB).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # macOS: bytes; Linux: KiB

"""What a person reads while a stage runs: durations, rate/ETA lines and peak memory figures."""

from __future__ import annotations

import subprocess
import sys

from bert2dnn_ray import progress


def test_duration_reads_as_a_person_would():
    assert [progress.duration(s) for s in (0, 42.4, 185, 7620, -3)] == ["0s", "42s", "3m05s", "2h07m", "0s"]


def test_peak_memory_is_this_programs_own_not_its_parents():
    # ru_maxrss survives exec: a child forked from a 512 MiB parent would "peak" at 512 MiB.
    ballast = bytearray(512 * 2**20)
    ballast[::4096] = b"x" * len(ballast[::4096])  # touch every page: resident
    code = "from bert2dnn_ray.progress import peak_rss_bytes; print(peak_rss_bytes())"
    child = int(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    )
    assert 5 * 2**20 < child < 256 * 2**20, child
    assert progress.peak_rss_bytes() >= 512 * 2**20
    del ballast

"""Small measuring tools of the speed sections: a latency clock, memory and disk use (percentiles and the
machine are in ``bench.common``)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def rss_mb(field: str = "VmRSS") -> float:
    """Resident memory of this process in MiB (``VmHWM``: its peak so far), from /proc (Linux)."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    return int(match.group(1)) / 1024 if match else float("nan")


def mapped_mb(folder: Path) -> float:
    """Resident pages (MiB) of the files under ``folder`` that this process has memory-mapped, from
    /proc/self/smaps (Linux; 0 elsewhere)."""
    try:
        text = Path("/proc/self/smaps").read_text()
    except OSError:
        return 0.0
    prefix, total, inside = str(Path(folder).resolve()) + "/", 0, False
    for line in text.splitlines():
        head = line.split(maxsplit=5)
        if len(head) >= 5 and "-" in head[0] and not head[0].endswith(":"):  # a mapping's header line
            inside = len(head) == 6 and head[5].startswith(prefix)
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1])
    return total / 1024


def latencies(fn: Callable[[str], object], queries: list[str], warmup: int = 20) -> np.ndarray:
    """Milliseconds per call, one query at a time, after ``warmup`` untimed calls."""
    for q in queries[:warmup]:
        fn(q)
    out = []
    for q in queries:
        started = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - started) * 1000)
    return np.array(out)


def du_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 2**20

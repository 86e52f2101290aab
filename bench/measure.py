"""Small measuring tools shared by the benchmark sections: clocks, percentiles, memory, the machine."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import subprocess
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


def pct(ms: np.ndarray) -> dict[str, float]:
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p95_ms": round(float(np.percentile(ms, 95)), 3),
            "n": len(ms)}


def du_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 2**20


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict[str, object]:
    """Cores, CPU model and the instruction sets that matter here, from lscpu; library versions."""
    info: dict[str, object] = {"cores": os.cpu_count(), "python": platform.python_version()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in lscpu.splitlines() if ":" in line)
        info["cpu"] = fields.get("Model name", "").strip()
        info["family_model"] = f"{fields.get('CPU family', '').strip()}/{fields.get('Model', '').strip()}"
        flags = fields.get("Flags", "").split()
        info["features"] = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16") if f in flags]
    except (OSError, subprocess.CalledProcessError):
        info["cpu"] = platform.processor()
    with contextlib.suppress(ValueError, OSError):
        info["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    from importlib.metadata import PackageNotFoundError, version

    for package in ("torch", "sentence-transformers", "openvino", "faiss-cpu", "bm25s", "numpy"):
        try:
            info[package] = version(package)
        except PackageNotFoundError:
            info[package] = None
    return info

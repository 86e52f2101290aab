"""The automatic CPU variant: the fastest that passes the quality gate *on this machine*, measured once.

A capability flag says what a CPU can run, not what runs fastest on it. So the first time the packaged model runs
with variant ``auto`` on a CPU, each candidate embeds the same few fixed texts (``qa.embed.int8.measurement_texts``,
held out of the int8 calibration), alternating, ``ROUNDS`` timed rounds after a warm one, best time kept (the
least disturbed by whatever else runs). A candidate passes the gate when its least cosine to the fp32 vectors
of those texts is at least ``GATE``; among those the fastest wins, but a less exact one only when it is at least
``MARGIN`` faster than a more exact one (the timing is noisy; exactness is not). With one candidate (fp32 on a
CPU without bf16) nothing is measured.

The candidates are the variants that met the SciFact quality target (nDCG@10 within 0.005 of fp32): fp32, and
bf16 where OpenVINO reports it. int8 is not one of them yet: on SciFact it lost 0.009 nDCG@10, and on this
project's AVX2 EPYC (no VNNI) it was no faster than fp32 (2.08 s to 2.10 s on the measurement texts, after a
90 s quantisation), though OpenVINO reports ``INT8`` (docs/benchmarks.md). ``--variant openvino-int8`` runs it.

The result is kept in the model cache beside the exported model, in a file named after the CPU's identity (its
model name, a hash of its flags, its core count and the OpenVINO version, ``cpu_identity``): another machine
sharing the home folder, or a new OpenVINO, measures again. ``qa index --variant`` bypasses all of this.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

FORMAT = 1
ORDER = ("openvino-fp32", "openvino-bf16")  # most exact first; the first is the reference
GATE = 0.999  # least cosine to fp32 on the measurement texts (bf16 on every SciFact chunk: >= 0.99996)
MARGIN = 0.10  # a less exact variant must take at most 90% of the time of a more exact one
ROUNDS = 2

Encode = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Measurement:
    variant: str
    seconds: float  # best of the timed rounds
    min_cosine: float  # against the reference (the first candidate) on the same texts


def _cpu_fields(cpuinfo: str | None) -> dict[str, str]:
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def _flags(fields: Mapping[str, str]) -> set[str]:
    return set((fields.get("flags") or fields.get("Features") or "").split())  # x86, ARM


def cpu_identity(cpuinfo: str | None = None, cores: int | None = None, openvino: str | None = None) -> dict[str, str]:
    r"""What makes one CPU measure differently from another.

    >>> ident = cpu_identity("model name\t: AMD EPYC\nflags\t\t: fpu avx2 fma\n", 2, "2026.4")
    >>> ident["model"], ident["cores"], ident["openvino"], len(ident["flags"])
    ('AMD EPYC', '2', '2026.4', 12)
    """
    fields = _cpu_fields(cpuinfo)
    if openvino is None:
        from qa.embed.runtimes import import_openvino

        openvino = import_openvino().get_version()
    return {"model": fields.get("model name") or fields.get("CPU part") or "unknown",
            "flags": hashlib.sha256(" ".join(sorted(_flags(fields))).encode()).hexdigest()[:12],
            "cores": str(cores if cores is not None else os.cpu_count()), "openvino": openvino}


def identity_key(identity: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(dict(identity), sort_keys=True).encode()).hexdigest()[:16]


def measure(encoders: Mapping[str, Encode], texts: list[str], *, rounds: int = ROUNDS,
            timer: Callable[[], float] = time.perf_counter) -> list[Measurement]:
    """Each encoder's best time over ``rounds`` alternating rounds, and its least cosine to the first's vectors."""
    vectors = {name: encode(texts) for name, encode in encoders.items()}  # the warm round
    best = dict.fromkeys(encoders, float("inf"))
    for _ in range(rounds):
        for name, encode in encoders.items():
            started = timer()
            encode(texts)
            best[name] = min(best[name], timer() - started)
    reference = next(iter(vectors.values()))
    return [Measurement(name, round(best[name], 4), round(float((vectors[name] * reference).sum(axis=1).min()), 6))
            for name in encoders]


def pick(measurements: Sequence[Measurement]) -> str:
    """The fastest that passes the gate, a less exact one only when ``MARGIN`` faster.

    >>> pick([Measurement("openvino-fp32", 1.0, 1.0), Measurement("openvino-bf16", 0.95, 0.99998)])
    'openvino-fp32'
    >>> pick([Measurement("openvino-fp32", 1.0, 1.0), Measurement("openvino-bf16", 0.6, 0.99998)])
    'openvino-bf16'
    >>> pick([Measurement("openvino-fp32", 1.0, 1.0), Measurement("openvino-bf16", 0.6, 0.99)])
    'openvino-fp32'
    """
    passing = sorted((m for m in measurements if m.min_cosine >= GATE), key=lambda m: ORDER.index(m.variant))
    chosen = passing[0]
    for m in passing[1:]:
        if m.seconds <= chosen.seconds * (1 - MARGIN):
            chosen = m
    return chosen.variant


def chosen(record: Path, identity: Mapping[str, str], run: Callable[[], list[Measurement]],
           say: Callable[[str], None] | None = None) -> str:
    """The variant recorded in ``record`` for this CPU, else measured by ``run`` now and recorded."""
    try:
        saved = json.loads(record.read_text())
        if saved.get("format") == FORMAT and saved.get("cpu") == dict(identity) and saved.get("chosen") in ORDER:
            return saved["chosen"]
    except (OSError, ValueError, AttributeError):
        pass
    if say:
        say("measuring which variant of the model is fastest on this CPU, once ...")
    measurements = run()
    variant = pick(measurements)
    if say:
        times = ", ".join(f"{m.variant} {m.seconds:.2f} s (cosine {m.min_cosine:.4f})" for m in measurements)
        say(f"chose {variant}: {times}")
    record.parent.mkdir(parents=True, exist_ok=True)
    tmp = record.with_name(f".{record.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps({"format": FORMAT, "cpu": dict(identity), "chosen": variant, "gate": GATE,
                               "measured": [asdict(m) for m in measurements],
                               "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=1))
    os.replace(tmp, record)
    return variant


def candidates(capabilities: Sequence[str]) -> list[str]:
    """What to measure on a CPU whose OpenVINO reports ``capabilities``.

    >>> candidates(["FP32", "INT8", "BIN"]), candidates(["FP32", "BF16", "INT8"])
    (['openvino-fp32'], ['openvino-fp32', 'openvino-bf16'])
    """
    return ["openvino-fp32", "openvino-bf16"] if "BF16" in capabilities else ["openvino-fp32"]

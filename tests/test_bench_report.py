"""bench/report.py: each figure beside its target, with the right verdict, from a results file's sections."""

from __future__ import annotations

from bench import report


def _memory(ratio: float, chunks: int) -> dict:
    return {"chunks": chunks, "index_kind": "flat", "storage": "fp16", "questions": 300, "vectors_mb": 17.0,
            "text_mb": 7.4, "bm25_arrays_mb": 5.3, "dense_mb": 20.2, "loaded_mb": 24.3, "mapped_mb": 5.3,
            "index_mb": round(ratio * 24.4, 2), "print_cache_mb": 4.1, "process_growth_mb": 39.3, "ratio": ratio}


def _ann(kind: str, recall: float, p50: float) -> dict:
    return {"spec": {"kind": kind, "metric": "inner_product", "storage": "fp16"}, "build_s": 22.0,
            "rss_growth_mb": 919, "threads_1": {"p50_ms": p50, "p95_ms": p50 + 1, "recall_at_10": recall},
            "threads_2": {"p50_ms": p50}, "sweep": {"nprobe=32": {"p50_ms": 0.7, "recall_at_10": 0.974}}}


def _results() -> dict:
    return {
        "command": "bench/speed.py", "date": "2026-11-24 23:53 UTC", "quick": False, "machine": {"cores": 2},
        "params": {"dense_sizes": [1_000_000], "stack_sizes": [1_000_000]},
        "load_average_start": [0.7, 0.9, 1.2], "load_average_end": [1.7, 1.8, 1.6],
        "sections": {
            "memory": _memory(1.21, 11_622),
            "stack_memory_1000000": _memory(1.35, 1_011_114),
            "dense_scale": {"1000000": {
                "exact": {"threads_1": {"p50_ms": 55.6, "p95_ms": 62.5}, "threads_2": {"p50_ms": 134.5}},
                "flat": _ann("flat", 0.9997, 33.9), "hnsw": _ann("hnsw", 0.947, 1.0), "ivf": _ann("ivf", 0.988, 1.4),
            }},
            "cold": {"error": "section failed with exit status 1"},
        },
    }


def _row(table: str, start: str) -> list[str]:
    line = next(line for line in table.splitlines() if line.startswith(f"| {start}"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_memory_rows_name_their_size_and_judge_the_ratio() -> None:
    table = report.markdown(_results())
    scifact = _row(table, "memory of the loaded index, SciFact (11,622 chunks")
    synthetic = _row(table, "memory of the loaded index, synthetic (1,011,114 chunks")
    assert "= 1.21x" in scifact[1] and scifact[2:] == ["<= 1.3x", "met"]
    assert "= 1.35x" in synthetic[1] and synthetic[3] == "**not met**"


def test_ann_rows_judge_recall_at_a_million_and_keep_the_exact_reference_apart() -> None:
    table = report.markdown(_results())
    assert _row(table, "1,000,000 synthetic vectors, exact fp32")[1].startswith("55.6 ms / 62.5 ms")
    assert _row(table, "1,000,000: hnsw")[3] == "**not met**"  # recall 0.947 < 0.95
    ivf = _row(table, "1,000,000: ivf")
    assert ivf[3] == "met" and "nprobe=32: 0.7 ms, 0.974" in ivf[1]
    assert _row(table, "1,000,000: flat")[2:] == ["", ""]  # exact search at 1M has no target of its own


def test_a_failed_section_is_listed_not_dropped() -> None:
    assert "- section `cold` failed: section failed with exit status 1" in report.markdown(_results())

"""bench/common.py: percentiles, judgements, nDCG and the SQuAD split as the benchmarks use them; and the rules the
benchmarks keep (qa's public names only, short functions, qa not imported before a section times it)."""

from __future__ import annotations

import ast
import doctest
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench import common

REPO = Path(__file__).resolve().parent.parent
BENCH = sorted((REPO / "bench").glob("*.py"))
SCIFACT = REPO.parent / "shared" / "data" / "scifact"


def test_doctest() -> None:
    assert doctest.testmod(common).failed == 0


def test_pct_is_numpy_percentiles_to_the_microsecond() -> None:
    ms = np.random.default_rng(0).exponential(3.0, 1001)
    assert common.pct(ms) == {"p50_ms": round(float(np.percentile(ms, 50)), 3),
                              "p95_ms": round(float(np.percentile(ms, 95)), 3), "n": 1001}
    assert common.percentiles([4.0]) == {"p50": 4.0, "p95": 4.0} and common.percentiles([]) == {"p50": 0.0, "p95": 0.0}


def test_squad_split_by_article_parity() -> None:
    qrels = {"q1": {"0_0": 1}, "q2": {"1_4": 1}, "q3": {"10_2": 1}, "q4": {"47_0": 1}}
    assert common.squad_half_queries(qrels, common.EVEN) == {"q1", "q3"}
    assert common.squad_half_queries(qrels, common.ODD) == {"q2", "q4"}
    assert common.squad_article("corpus.jsonl#47_0") == 47 and common.squad_half("corpus.jsonl#47_0") == common.ODD
    with pytest.raises(ValueError, match="use 'even' or 'odd'"):
        common.squad_half_queries(qrels, "first")


def _ndcg_as_bench_computed_it(run: dict, qrels: dict) -> float:
    """The former ``bench/scifact.py`` nDCG@10: pytrec_eval over every judged query, missing ones counting 0."""
    import pytrec_eval

    per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate({q: run.get(q, {}) for q in qrels})
    return sum(v["ndcg_cut_10"] for v in per_query.values()) / len(qrels)


def test_ndcg_at_10_matches_the_former_bench_copy(tmp_path: Path) -> None:
    rng = random.Random(0)
    qrels = {f"q{i}": {f"d{rng.randrange(40)}": 1 for _ in range(rng.randint(1, 3))} for i in range(30)}
    run = {q: {f"d{d}": rng.random() for d in rng.sample(range(40), 15)} for q in list(qrels)[:25]}  # 5 unanswered
    assert common.ndcg_at_10(run, qrels) == pytest.approx(_ndcg_as_bench_computed_it(run, qrels), abs=1e-12)
    path = tmp_path / "qrels.tsv"
    path.write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{s}\n" for q, rels in qrels.items()
                                                              for d, s in rels.items()))
    assert common.read_qrels(path) == qrels


@pytest.mark.skipif(not SCIFACT.exists(), reason="SciFact data not present in shared/data")
def test_scifact_qrels_and_ndcg_as_before() -> None:
    from bench import scifact

    lines = (SCIFACT / "qrels.tsv").read_text().splitlines()[1:]
    former: dict[str, dict[str, int]] = {}
    for line in lines:
        query, doc, score = line.split("\t")
        former.setdefault(query, {})[doc] = int(score)
    assert scifact.qrels() == former
    rng = random.Random(1)
    docs = sorted({d for rels in former.values() for d in rels})
    run = {q: {d: rng.random() for d in [*rels, *rng.sample(docs, 9)]} for q, rels in list(former.items())[::2]}
    assert scifact.ndcg_at_10(run) == pytest.approx(_ndcg_as_bench_computed_it(run, former), abs=1e-12)


def test_machine_describes_cores_python_and_libraries() -> None:
    info = common.machine()
    assert info["cores"] and info["python"] and set(common.PACKAGES) <= set(info)
    assert len(common.load_average()) == 3


def _qa_imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) for every ``from qa... import name`` and ``import qa...`` in a file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "qa":
            found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names if alias.name.split(".")[0] == "qa"]
    return found


@pytest.mark.parametrize("path", BENCH, ids=lambda p: p.name)
def test_bench_uses_only_public_qa_names(path: Path) -> None:
    private = [f"{module}.{name}" for module, name in _qa_imports(path)
               if name.startswith("_") or any(part.startswith("_") for part in module.split("."))]
    assert not private
    attributes = {node.attr for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Attribute)}
    assert not {a for a in attributes if a.startswith("_") and not a.startswith("__")}


@pytest.mark.parametrize("path", BENCH, ids=lambda p: p.name)
def test_bench_functions_are_short(path: Path) -> None:
    long = [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 > 60]
    assert not long


def test_importing_the_sections_imports_no_qa_module() -> None:
    """``sections.cold`` times ``from qa.assistant import Assistant``: nothing may have imported qa before."""
    code = ("import sys; sys.path.insert(0, '.'); import bench.sections, bench.scale, bench.common, bench.report; "
            "print(sorted(m for m in sys.modules if m == 'qa' or m.startswith('qa.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("path", [p for p in BENCH if p.name != "__init__.py"], ids=lambda p: p.name)
def test_every_bench_script_imports(path: Path) -> None:
    """A script whose imports broke (a helper moved between bench modules) fails here, not in the next long run."""
    import importlib

    importlib.import_module(f"bench.{path.stem}")

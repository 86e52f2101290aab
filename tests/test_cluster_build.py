"""`qa index --engine ray` on a real three-node Ray cluster (tests/ray_cluster.py), with the hashing embedder: the
same generation as the local build, work on several nodes, nothing embedded twice, a node lost mid-build."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from qa.assistant import Assistant
from qa.embed.embedders import HashingEmbedder
from qa.index import ledger, store
from qa.index.build import build_index
from tests.conftest import REPO
from tests.ray_cluster import ADDRESS, emitted, write_synthetic_corpus

pytestmark = pytest.mark.cluster

# Run inside the cluster's namespace: a build on the cluster; emits the report and where the work ran.
BUILD = """import sys
from pathlib import Path
from qa.cluster.ray_engine import RayEngine
from qa.index.build import build_index
from tests.ray_cluster import SlowHashingEmbedder

corpus, index, block, seconds, full = sys.argv[1:]
make = lambda: SlowHashingEmbedder(64, float(seconds))
engine = RayEngine(ADDRESS, block=int(block), make_embedder=make)
report = build_index(Path(corpus), Path(index), make(), progress=False, engine=engine, full=full == "full")
emit({"report": report.to_dict(), "read_nodes": sorted(engine.read_nodes), "embedded_by": engine.embedded_by,
      "actor_nodes": engine.actor_nodes, "lost_actors": engine.lost_actors})
"""

LOCAL_BUILD = """import sys
from pathlib import Path
from qa.embed.embedders import HashingEmbedder
from qa.index.build import build_index

emit(build_index(Path(sys.argv[1]), Path(sys.argv[2]), HashingEmbedder(64), progress=False).chunks)
"""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_corpus(tmp_path_factory.mktemp("cluster") / "corpus")


@pytest.fixture(scope="module")
def local_index(ray_cluster, corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The local build of the same corpus, in a process with the drivers' hash seed (``RayCluster.env``)."""
    index = tmp_path_factory.mktemp("local") / "index"
    ray_cluster.run(LOCAL_BUILD, str(corpus), str(index))
    return index


def build_on_cluster(cluster, corpus: Path, index: Path, block: int = 16, seconds: float = 0, full: bool = False):
    return cluster.run(BUILD, str(corpus), str(index), str(block), str(seconds), "full" if full else "update")


def assert_same_generation(index: Path, reference: Path, *, rounding: float = 1e-6) -> None:
    """Same chunk table, documents, vectors (within ``rounding``) and checksummed files, apart from the build time;
    with ``rounding`` above 1e-6, apart from the files made of the vectors too (a model's last bits can differ
    with the thread count: Ray gives a one-CPU actor one thread)."""
    got, want = store.load(index, with_vectors=True), store.load(reference, with_vectors=True)
    for column in ("doc", "start", "end"):
        assert np.array_equal(getattr(got.chunks, column), getattr(want.chunks, column))
    assert got.documents == want.documents
    np.testing.assert_allclose(got.vectors, want.vectors, atol=rounding)
    timeless = ("built_at", "build_seconds")

    def described(data: store.IndexData) -> dict:
        manifest = {k: v for k, v in data.manifest.to_dict().items() if k not in timeless}
        # the ledger records each file's reading time and the generation's name: compared without them below
        manifest["files"] = {name: meta for name, meta in manifest["files"].items() if name != ledger.LEDGER_FILE}
        if rounding > 1e-6:
            manifest["files"] = {name: meta for name, meta in manifest["files"].items()
                                 if not name.startswith(("vectors.", "calibration/"))}
        return manifest

    assert described(got) == described(want)

    def entries(index_dir: Path) -> list[dict]:
        return [{k: v for k, v in entry.to_dict().items() if k not in ("seconds", "generation")}
                for entry in ledger.read_ledger(index_dir).entries]

    assert entries(index) == entries(reference)


def test_the_cluster_build_equals_the_local_build_and_ran_on_several_nodes(ray_cluster, corpus: Path,
                                                                           local_index: Path, tmp_path: Path) -> None:
    built = build_on_cluster(ray_cluster, corpus, tmp_path / "index")
    report = built["report"]
    assert 200 <= report["chunks"] == report["chunks_embedded"] <= 600  # a few hundred chunks, all embedded
    assert_same_generation(tmp_path / "index", local_index)
    nodes = set(ray_cluster.node_ids().values())
    assert len(set(built["read_nodes"]) & nodes) >= 2, built["read_nodes"]
    assert len(set(built["actor_nodes"]) & nodes) == 3, built["actor_nodes"]  # one embedding actor per node
    assert len(set(built["embedded_by"]) & nodes) >= 2, built["embedded_by"]
    assert sum(built["embedded_by"].values()) == report["chunks"]

    again = build_on_cluster(ray_cluster, corpus, tmp_path / "index", full=True)  # from scratch: the cache answers
    assert again["report"]["chunks_embedded"] == 0 and again["embedded_by"] == {}
    assert again["report"]["chunks_reused"] == report["chunks"]
    assert_same_generation(tmp_path / "index", local_index)


def test_qa_index_on_the_cluster_shows_the_cluster_s_progress(ray_cluster, corpus: Path, local_index: Path,
                                                             tmp_path: Path) -> None:
    """The command line, as the README gives it: chunks embedded / total and each node's throughput."""
    index = tmp_path / "index"
    ran = subprocess.run(ray_cluster.command([sys.executable, "-m", "qa", "index", "--engine", "ray", "--address",
                                              ADDRESS, "--corpus", str(corpus), "--index", str(index)]),
                         env={**ray_cluster.env, "QA_MODEL": "hashing-64"}, cwd=REPO, capture_output=True, text=True,
                         timeout=300)
    assert ran.returncode == 0, ran.stderr[-3000:]
    chunks = len(store.load(index).chunks)
    last = ran.stderr.replace("\r", "\n").strip().splitlines()[-1]
    assert "embedding: 100%" in last and f"{chunks}/{chunks}" in last, ran.stderr[-2000:]
    node_prefixes = {node[:6] for node in ray_cluster.node_ids().values()}
    assert any(f"{prefix}: " in last for prefix in node_prefixes), last  # "a1b2c3: 254 (120/s)"
    assert_same_generation(index, local_index)


def cached_texts(index: Path) -> int:
    path = index / "cache" / "embeddings.sqlite"
    if not path.exists():
        return 0
    with sqlite3.connect(path, timeout=30) as db:
        try:
            return db.execute("SELECT count(*) FROM vectors").fetchone()[0]
        except sqlite3.OperationalError:  # the build has not made the table yet
            return 0


def test_a_worker_node_killed_mid_build(ray_cluster, corpus: Path, local_index: Path, tmp_path: Path) -> None:
    """The build finishes on the other nodes; meanwhile the previous generation answers; the next run embeds
    nothing. Last in this module: it restarts the killed node for the tests after it."""
    index = tmp_path / "index"
    first = corpus.parent / "first"
    first.mkdir(exist_ok=True)
    (first / "old.txt").write_text("The old generation knows about lighthouses on the coast.", encoding="utf-8")
    build_index(first, index, HashingEmbedder(64), progress=False)
    previous = store.current_generation(index)

    script = ray_cluster.script(BUILD)
    build = subprocess.Popen(ray_cluster.command([sys.executable, str(script), str(corpus), str(index), "16", "0.4",
                                                  "update"]),
                             env=ray_cluster.env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while cached_texts(index) < 48 and build.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert build.poll() is None, f"the build ended before the kill: {build.communicate()}"
    ray_cluster.kill_node(ray_cluster.workers[-1])
    assert store.current_generation(index) == previous
    assert Assistant.load(index).ask("lighthouses on the coast").passages[0].doc_id == "old.txt"

    out, err = build.communicate(timeout=300)
    try:
        assert build.returncode == 0, err[-3000:]
        built = emitted(out)
        assert built["lost_actors"] >= 1
        assert_same_generation(index, local_index)
        again = build_on_cluster(ray_cluster, corpus, index, full=True)
        assert again["report"]["chunks_embedded"] == 0
    finally:
        ray_cluster.start_worker(ray_cluster.workers[-1])


REAL_BUILD = """import sys
from pathlib import Path
from qa.embed.embedders import embedder_for
from qa.index.build import build_index
from qa.index.engine import LOCAL

corpus, index, engine = sys.argv[1:]
if engine == "ray":
    from qa.cluster.ray_engine import RayEngine
    engine = RayEngine(ADDRESS, block=4)
else:
    engine = LOCAL
report = build_index(Path(corpus), Path(index), embedder_for(variant="torch-fp32"), progress=False, engine=engine)
emit({"chunks": report.chunks, "nodes": sorted(getattr(engine, "embedded_by", {}))})
"""


@pytest.mark.slow  # the packaged model, loaded by every embedding actor
def test_the_real_model_on_the_cluster_gives_the_local_vectors(ray_cluster, seed_corpus: Path, tmp_path: Path) -> None:
    local = ray_cluster.run(REAL_BUILD, str(seed_corpus), str(tmp_path / "local"), "local", timeout=600)
    built = ray_cluster.run(REAL_BUILD, str(seed_corpus), str(tmp_path / "cluster"), "ray", timeout=600)
    assert built["chunks"] == local["chunks"] > 0 and len(built["nodes"]) >= 2
    assert_same_generation(tmp_path / "cluster", tmp_path / "local", rounding=1e-5)

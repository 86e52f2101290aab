"""Answering across shards on a real three-node Ray cluster (tests/ray_cluster.py): one actor per shard, spread
over the nodes; the answers equal the unsharded index's; a shard that does not answer is named, then recovers; a
rebuild swaps every shard at once. The indexes are built here; the driver code runs inside the cluster's
namespace, as ``qa serve --cluster`` would."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from qa.index.build import build_index
from tests.conftest import SHARED_DATA
from tests.test_shards import SEED_QUESTIONS

pytestmark = pytest.mark.cluster

PRELUDE = """import json, os, signal, sys, time
from qa.assistant import Assistant
from qa.embed.embedders import HashingEmbedder
from qa.index.build import build_index

embedder = HashingEmbedder(64)


def answers(assistant, questions, k=5):
    out = []
    for q in questions:
        for mode in ("hybrid", "dense", "lexical"):
            r = assistant.ask(q, k=k, mode=mode)
            out.append({"q": q, "mode": mode, "passages": [p.to_dict() for p in r.passages],
                        "answer": r.answer.to_dict() if r.answer else None, "missing": list(r.missing),
                        "generation": r.generation})
    return out
"""

EQUAL = PRELUDE + """
index, questions = sys.argv[1], json.loads(sys.argv[2])
sharded = Assistant.load(index, embedder=embedder, cluster=ADDRESS)
places = [node for node, _ in sharded.searcher.fanout.places]
emit({"answers": answers(sharded, questions, k=10), "nodes": places})
"""


def local_answers(index: Path, questions: list[str], k: int) -> list[dict]:
    """What the in-process assistant answers over ``index``, in the driver's JSON shape."""
    from qa.assistant import Assistant
    from qa.embed.embedders import HashingEmbedder

    assistant = Assistant.load(index, embedder=HashingEmbedder(64))
    out = []
    for q in questions:
        for mode in ("hybrid", "dense", "lexical"):
            r = assistant.ask(q, k=k, mode=mode)
            out.append({"q": q, "mode": mode, "passages": [p.to_dict() for p in r.passages],
                        "answer": r.answer.to_dict() if r.answer else None, "missing": [],
                        "generation": r.generation})
    return out


def scifact_slice(folder: Path, documents: int) -> tuple[Path, list[str]]:
    source = SHARED_DATA / "scifact"
    folder.mkdir()
    with (source / "corpus.jsonl").open() as lines:
        (folder / "corpus.jsonl").write_text("".join(line for _, line in zip(range(documents), lines, strict=False)))
    questions = [json.loads(line)["text"] for line in (source / "queries.jsonl").read_text().splitlines()[:12]]
    return folder, questions


@pytest.mark.parametrize("corpus_name", ["seeds", "scifact"])
def test_sharded_search_over_ray_actors_equals_unsharded_search(corpus_name: str, ray_cluster, seed_corpus: Path,
                                                                tmp_path: Path, embedder) -> None:
    if corpus_name == "scifact":
        if not (SHARED_DATA / "scifact").is_dir():
            pytest.skip("SciFact data not present in shared/data")
        corpus, questions = scifact_slice(tmp_path / "scifact", 300)
        shards = 3
    else:
        corpus, questions, shards = seed_corpus, list(SEED_QUESTIONS), 2
    build_index(corpus, tmp_path / "one", embedder, progress=False)
    build_index(corpus, tmp_path / "sharded", embedder, progress=False, shards=shards)
    found = ray_cluster.run(EQUAL, str(tmp_path / "sharded"), json.dumps(questions))
    expected = local_answers(tmp_path / "one", questions, 10)
    for got, want in zip(found["answers"], expected, strict=True):
        assert (got["passages"], got["answer"], got["missing"]) == (want["passages"], want["answer"], []), got["q"]
    assert len(found["nodes"]) == shards and len(set(found["nodes"])) >= 2  # spread over the nodes


KILLED = PRELUDE + """
index, question = sys.argv[1], sys.argv[2]
sharded = Assistant.load(index, embedder=embedder, cluster=ADDRESS, shard_timeout=3)
whole = sharded.ask(question, k=5)
_, pid = sharded.searcher.fanout.places[1]
os.kill(pid, signal.SIGSTOP)  # the shard's actor hangs: it will not answer in time
stalled = sharded.ask(question, k=5)
os.kill(pid, signal.SIGKILL)  # and dies: Ray restarts it, and it loads its shard again
deadline, recovered = time.monotonic() + 120, None
while time.monotonic() < deadline:
    result = sharded.ask(question, k=5)
    if not result.missing:
        recovered = result
        break
    time.sleep(0.5)
new_pid = sharded.searcher.fanout.actors[1].where.remote()
import ray
emit({"whole": [p.doc_id for p in whole.passages], "stalled": [p.doc_id for p in stalled.passages],
      "missing": list(stalled.missing), "note": stalled.missing_note,
      "recovered": None if recovered is None else [p.doc_id for p in recovered.passages],
      "same_pid": ray.get(new_pid)[1] == pid, "shard_docs": [d.doc_id for d in sharded.data.shards[1].documents]})
"""


def test_a_killed_shard_actor_gives_the_missing_part_then_recovers(ray_cluster, tmp_path: Path, embedder) -> None:
    if not (SHARED_DATA / "scifact").is_dir():
        pytest.skip("SciFact data not present in shared/data")
    corpus, questions = scifact_slice(tmp_path / "scifact", 120)
    build_index(corpus, tmp_path / "sharded", embedder, progress=False, shards=2)
    found = ray_cluster.run(KILLED, str(tmp_path / "sharded"), questions[0])
    assert found["missing"] and found["missing"][0].startswith("shard 2 of 2 (")
    assert "Part of the corpus is missing" in found["note"]
    assert found["stalled"] and not set(found["stalled"]) & set(found["shard_docs"])  # only the other shard's
    assert found["recovered"] == found["whole"] and not found["same_pid"]  # a new process, the same answer


SWAP = PRELUDE + """
import threading
index, corpus, question = sys.argv[1], sys.argv[2], sys.argv[3]
sharded = Assistant.load(index, embedder=embedder, cluster=ADDRESS)
seen, stop = [], threading.Event()


def ask_all_the_time():
    while not stop.is_set():
        sharded.reload_if_changed()
        r = sharded.ask(question, k=5)
        seen.append({"generation": r.generation, "passages": [p.chunk_id for p in r.passages],
                     "missing": list(r.missing)})


asker = threading.Thread(target=ask_all_the_time)
asker.start()
time.sleep(3)
with open(os.path.join(corpus, "comets.txt"), "w") as f:
    f.write("Comets have icy nuclei and long tails. A comet is a new topic for this question about cells.")
build_index(corpus, index, embedder, progress=False)
deadline = time.monotonic() + 120
while time.monotonic() < deadline and len({s["generation"] for s in seen}) < 2:
    time.sleep(0.5)
time.sleep(2)
stop.set()
asker.join()
emit(seen)
"""


def test_a_rebuild_swaps_every_shard_at_once_over_ray(ray_cluster, tmp_path: Path, embedder) -> None:
    if not (SHARED_DATA / "scifact").is_dir():
        pytest.skip("SciFact data not present in shared/data")
    corpus, questions = scifact_slice(tmp_path / "scifact", 120)
    index = tmp_path / "sharded"
    build_index(corpus, index, embedder, progress=False, shards=2)
    question = questions[0] + " comet"
    seen = ray_cluster.run(SWAP, str(index), str(corpus), question)
    generations = sorted({s["generation"] for s in seen})
    assert len(generations) == 2 and all(not s["missing"] for s in seen)
    # every answer is exactly one generation's answer: what that generation alone gives in one process
    from qa.assistant import Assistant
    from qa.index import store

    expected = {}
    for name in generations:
        copy = tmp_path / f"copy-{name}"
        (copy / "generations").mkdir(parents=True)
        shutil.copytree(store.generation_dir(index, name), copy / "generations" / name)
        (copy / "CURRENT").write_text(name + "\n")
        expected[name] = [p.chunk_id for p in Assistant.load(copy, embedder=embedder).ask(question, k=5).passages]
    assert expected[generations[0]] != expected[generations[1]]  # the rebuild changed this answer
    assert all(s["passages"] == expected[s["generation"]] for s in seen)
    order = [s["generation"] for s in seen]
    assert order == sorted(order)  # once the new generation answers, the old one never does again

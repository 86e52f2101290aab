"""Sharded generations (`qa index --shards N`) and answering across shards in this process.

The reference is the unsharded index over the same corpus: every answer (passages, order, answer sentence) must be
the same, on the seed corpus, the search tests' corpus (filters, duplicates, a long document) and a SciFact slice.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.assistant import Assistant
from qa.errors import ClusterError, SettingsError
from qa.index import shards, store
from qa.index.build import build_index
from qa.index.lexical import LexicalIndex
from qa.search.shards import Candidates, LocalFanout, ShardedSearcher
from qa.serve.cli import main
from qa.settings import DEFAULT
from tests.conftest import REPO, SHARED_DATA
from tests.test_index_damage import edit_manifest, generation_files, refused, rewrite_with_checksum
from tests.test_search import SMALL_CHUNKS, corpus  # noqa: F401  (a fixture)

MODES = ("hybrid", "dense", "lexical")
SEED_QUESTIONS = ("When did Russia withdraw its S-300 systems from Syria?", "forced displacement of civilians",
                  "Kremlin Astana process", "Which organisation studies war?")


def built(folder: Path, index: Path, embedder, **options) -> Assistant:
    build_index(folder, index, embedder, progress=False, **options)
    return Assistant.load(index, embedder=embedder, settings=options.get("settings", DEFAULT))


def assert_same_answers(one: Assistant, sharded: Assistant, questions, *, k: int = 5, filters=None) -> None:
    for question in questions:
        for mode in MODES:
            expected = one.ask(question, k=k, mode=mode, filters=filters)
            got = sharded.ask(question, k=k, mode=mode, filters=filters)
            assert got.passages == expected.passages, (question, mode)
            assert got.answer == expected.answer, (question, mode)
            assert got.missing == () and expected.passages


@pytest.fixture
def seeds(seed_corpus: Path) -> Path:
    """The repo's seed documents and the shared seed folder's, where there is one."""
    for path in sorted((REPO.parent / "shared" / "seeds").glob("*.txt")):
        shutil.copy(path, seed_corpus / path.name)
    return seed_corpus


@pytest.mark.parametrize("count", [1, 2])
def test_sharded_answers_equal_unsharded_on_the_seed_corpus(count: int, seeds: Path, tmp_path: Path,
                                                            embedder) -> None:
    one = built(seeds, tmp_path / "one", embedder)
    sharded = built(seeds, tmp_path / "sharded", embedder, shards=count)
    assert isinstance(sharded.searcher, ShardedSearcher) and len(sharded.data.shards) == count
    assert_same_answers(one, sharded, SEED_QUESTIONS)


def test_sharded_answers_equal_unsharded_with_filters_and_duplicates(corpus: Path, tmp_path: Path,  # noqa: F811
                                                                     embedder) -> None:
    one = built(corpus, tmp_path / "one", embedder, settings=SMALL_CHUNKS)
    sharded = built(corpus, tmp_path / "sharded", embedder, settings=SMALL_CHUNKS, shards=4)
    questions = ("glaciers melt in the Alps", "harvest wheat barley rain", "Report 7")
    assert_same_answers(one, sharded, questions, k=8)
    assert_same_answers(one, sharded, questions, k=3, filters={"source": "North Desk", "date_from": "2010"})
    reprinted = sharded.ask("glaciers Alps drones stakes", k=3)
    assert any(p.also_in for p in reprinted.passages)  # the reprint, in another shard, collapsed as unsharded


SCIFACT = SHARED_DATA / "scifact"


@pytest.mark.skipif(not SCIFACT.is_dir(), reason="SciFact data not present in shared/data")
def test_sharded_answers_equal_unsharded_on_a_scifact_slice(tmp_path: Path, embedder) -> None:
    folder = tmp_path / "scifact"
    folder.mkdir()
    with (SCIFACT / "corpus.jsonl").open() as source:
        (folder / "corpus.jsonl").write_text("".join(line for _, line in zip(range(400), source, strict=False)))
    questions = [json.loads(line)["text"] for line in (SCIFACT / "queries.jsonl").read_text().splitlines()[:25]]
    one = built(folder, tmp_path / "one", embedder)
    sharded = built(folder, tmp_path / "sharded", embedder, shards=3)
    assert_same_answers(one, sharded, questions, k=10)


def test_bm25_statistics_are_the_corpus_s_stored_once(seeds: Path, tmp_path: Path, embedder) -> None:
    one = built(seeds, tmp_path / "one", embedder)
    sharded = built(seeds, tmp_path / "sharded", embedder, shards=3)
    names = generation_files(tmp_path / "sharded")
    assert [n for n in names if n.endswith("corpus.json")] == ["lexical/corpus.json"]
    assert [n for n in names if n.endswith("dense-moments.npz")] == ["calibration/dense-moments.npz"]
    stats = json.loads((sharded.data.path / "lexical" / "corpus.json").read_text())
    assert stats["chunks"] == len(one.data.chunks)
    whole = one.searcher.lexical.scores("Russia Syria displacement Kremlin")
    parts = [LexicalIndex.load(part.path, chunks=len(part.chunks)).scores("Russia Syria displacement Kremlin")
             for part in sharded.data.shards]
    assert np.array_equal(np.concatenate(parts), whole) and whole.max() > 0  # the same score in every shard


def test_a_document_s_chunks_stay_in_one_shard(corpus: Path, tmp_path: Path, embedder) -> None:  # noqa: F811
    sharded = built(corpus, tmp_path / "sharded", embedder, settings=SMALL_CHUNKS, shards=4)
    seen: set[str] = set()
    for part in sharded.data.shards:
        ids = {doc.doc_id for doc in part.documents}
        assert ids and not ids & seen and len(set(part.chunks.doc.tolist())) == len(part.documents)
        seen |= ids
    sizes = [len(part.chunks) for part in sharded.data.shards]
    assert max(sizes) <= 2 * min(sizes) + 40  # balanced by chunks (the long document is 40 sentences)


def test_unsharded_manifest_is_as_before_and_rebuilds_reuse_every_vector(seeds: Path, tmp_path: Path,
                                                                        embedder) -> None:
    index = tmp_path / "index"
    built(seeds, index, embedder)
    assert "shards" not in json.loads((store.current_generation(index) / "manifest.json").read_text())
    report = build_index(seeds, index, embedder, progress=False, shards=2)
    assert report.chunks_embedded == 0 and report.chunks_reused == report.chunks
    assert len(store.load(index).shards) == 2
    assert build_index(seeds, index, embedder, progress=False).generation == report.generation  # keeps 2 shards
    (seeds / "new.txt").write_text("Comets have icy nuclei and long tails.")
    changed = build_index(seeds, index, embedder, progress=False)
    assert changed.chunks_embedded == 1 and len(store.load(index).shards) == 2
    assert Assistant.load(index, embedder=embedder).ask("comets icy tails", k=1).passages[0].path == "new.txt"
    assert len(build_index(seeds, index, embedder, progress=False, shards=0).generation) and not store.load(
        index).shards


def test_a_failed_sharded_write_leaves_the_previous_generation(seeds: Path, tmp_path: Path, embedder,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    index = tmp_path / "index"
    before = built(seeds, index, embedder, shards=2).ask("Kremlin Astana")
    from qa.index import vector_index

    calls = []
    real = vector_index.build

    def fail_on_second_shard(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(vector_index, "build", fail_on_second_shard)
    (seeds / "new.txt").write_text("Comets have icy nuclei and long tails.")
    with pytest.raises(Exception, match="space"):
        build_index(seeds, index, embedder, progress=False)
    assert not list((index / "generations").glob(".tmp-*"))
    assert Assistant.load(index, embedder=embedder).ask("Kremlin Astana") == before


def test_every_damaged_shard_file_is_refused(seeds: Path, tmp_path: Path, embedder, capsys,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_MODEL", "hashing-64")
    index = tmp_path / "index"
    built(seeds, index, embedder, shards=2)
    gen = store.current_generation(index)
    names = generation_files(index)
    assert {"shards/000/vectors.faiss", "shards/001/lexical/qa-lexical.json", "lexical/corpus.json"} <= set(names)
    for name in names:
        data = (gen / name).read_bytes()
        (gen / name).write_bytes(data[: len(data) // 2])
        refused(index, embedder, capsys, f"index file .*{re.escape(name)} does not match its checksum")
        (gen / name).write_bytes(data)
    (gen / "shards" / "001" / "extra.npy").write_bytes(b"\x93NUMPY")
    refused(index, embedder, capsys, "extra.npy is not listed in the manifest")


SHARD_EDITS = {
    "not-adding-up": (lambda m: m["shards"][1].update(chunks=m["shards"][1]["chunks"] + 1), "do not add up"),
    "out-of-order": (lambda m: m["shards"].reverse(), "does not follow the shard before it"),
    "escaping": (lambda m: m["shards"][0].update(folder="shards/../.."), "does not follow"),
    "unlisted": (lambda m: m["files"].pop("shards/001/chunks.npz"), "no checksum for shards/001/chunks.npz"),
    "not-a-list": (lambda m: m.update(shards={"folder": "shards/000"}), "not a list of folders"),
}


@pytest.mark.parametrize("case", sorted(SHARD_EDITS))
def test_edited_shard_list_is_refused(case: str, seeds: Path, tmp_path: Path, embedder, capsys,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_MODEL", "hashing-64")
    index = tmp_path / "index"
    built(seeds, index, embedder, shards=2)
    change, pattern = SHARD_EDITS[case]
    edit_manifest(index, change)
    refused(index, embedder, capsys, pattern)


def test_edited_shard_chunk_table_with_fixed_checksum_is_refused(seeds: Path, tmp_path: Path, embedder,
                                                                 capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setenv("QA_MODEL", "hashing-64")
    index = tmp_path / "index"
    built(seeds, index, embedder, shards=2)
    gen = store.current_generation(index)
    with np.load(gen / "shards/001/chunks.npz") as table:
        doc, start, end = table["doc"], table["start"], table["end"].copy()
    end[-1] = 10**9
    out = io.BytesIO()
    np.savez(out, doc=doc, start=start, end=end)
    rewrite_with_checksum(gen, "shards/001/chunks.npz", out.getvalue())
    refused(index, embedder, capsys, "points outside its documents")


class SilentShard(LocalFanout):
    """Shards searched here, one of them not answering (or answering from another generation)."""

    def __init__(self, fanout: LocalFanout, silent: int, *, other_generation: bool = False):
        super().__init__(fanout.shards)
        self.silent, self.other_generation = silent, other_generation

    def ask(self, request):
        answers = super().ask(request)
        answer = answers[self.silent]
        answers[self.silent] = None if not self.other_generation else Candidates(
            "g-999999-other", answer.dense, answer.dense_bm25, answer.lexical, answer.lexical_cosines,
            answer.moments, answer.available)
        return answers


@pytest.mark.parametrize("other_generation", [False, True])
def test_a_shard_that_does_not_answer_is_named_in_the_answer(other_generation: bool, corpus: Path,  # noqa: F811
                                                             tmp_path: Path, embedder, capsys) -> None:
    sharded = built(corpus, tmp_path / "sharded", embedder, settings=SMALL_CHUNKS, shards=3)
    searcher = sharded.searcher
    searcher.fanout = SilentShard(searcher.fanout, 0, other_generation=other_generation)
    result = sharded.ask("glaciers melt in the Alps", k=5)
    first = sharded.data.shards[0]
    assert result.missing == (searcher.describe(0),) and result.missing[0].startswith("shard 1 of 3 (")
    assert first.documents[0].source in result.missing[0]
    assert not {p.doc_id for p in result.passages} & {d.doc_id for d in first.documents}
    assert result.to_dict()["missing"] == list(result.missing)
    from qa.serve.render_text import result_text

    assert "missing" in result_text(result).lower() and "shard 1 of 3" in result_text(result)


def test_explain_on_a_sharded_index_equals_explain_on_the_unsharded_one(corpus: Path, tmp_path: Path,  # noqa: F811
                                                                        embedder) -> None:
    one = built(corpus, tmp_path / "one", embedder, settings=SMALL_CHUNKS)
    sharded = built(corpus, tmp_path / "sharded", embedder, settings=SMALL_CHUNKS, shards=4)
    doc_ids = [doc.doc_id for doc in one.data.documents]
    assert {d.doc_id for part in sharded.data.shards for d in part.documents} == set(doc_ids)
    for question in ("glaciers melt in the Alps", "harvest wheat barley rain"):
        for doc in doc_ids:
            for filters in (None, {"source": "North Desk"}):
                expected = one.explain(question, doc, k=3, filters=filters).to_dict()
                assert sharded.explain(question, doc, k=3, filters=filters).to_dict() == expected, (question, doc)


def test_explain_with_a_shard_silent_is_refused_by_name(corpus: Path, tmp_path: Path, embedder,  # noqa: F811
                                                        capsys) -> None:
    sharded = built(corpus, tmp_path / "sharded", embedder, settings=SMALL_CHUNKS, shards=3)
    sharded.searcher.fanout = SilentShard(sharded.searcher.fanout, 1)
    with pytest.raises(ClusterError, match=r"^shard 2 of 3 \(.*did not answer, and an explanation needs every shard"):
        sharded.explain("glaciers melt in the Alps", sharded.data.documents[0].doc_id)


def test_a_rebuild_swaps_every_shard_at_once(seeds: Path, tmp_path: Path, embedder) -> None:
    index = tmp_path / "index"
    assistant = built(seeds, index, embedder, shards=2)
    old = assistant.searcher
    (seeds / "new.txt").write_text("Comets have icy nuclei and long tails.")
    build_index(seeds, index, embedder, progress=False)
    assert assistant.ask("comets icy tails", k=1).generation == old.data.generation  # until reloaded
    assert assistant.reload_if_changed() is True
    result = assistant.ask("comets icy tails", k=1)
    assert result.generation == store.current_generation(index).name != old.data.generation
    assert result.passages[0].path == "new.txt" and result.missing == ()
    assert {part.generation for part in assistant.data.shards} == {result.generation}


def test_shard_count_is_checked() -> None:
    for bad in (-1, 257, True, "2"):
        with pytest.raises(SettingsError, match="--shards"):
            shards.check_shards(bad)


def test_cli_shards_and_too_many_shards_in_one_line(small_corpus: Path, tmp_path: Path, capsys,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_MODEL", "hashing-64")
    index = str(tmp_path / "index")
    assert main(["index", "--corpus", str(small_corpus), "--index", index, "--shards", "9", "-q"]) == 1
    assert capsys.readouterr().err == "qa: error: --shards 9 is more than the 3 documents: use at most 3 shards\n"
    assert main(["index", "--corpus", str(small_corpus), "--index", index, "--shards", "3", "-q"]) == 0
    capsys.readouterr()
    assert main(["ask", "Danube Black Sea", "--index", index, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["passages"][0]["file"] == "rivers.txt"


def test_local_sharded_answers_never_import_ray(seeds: Path, tmp_path: Path, embedder) -> None:
    built(seeds, tmp_path / "index", embedder, shards=2)
    code = ("import sys; from qa.assistant import Assistant; from qa.embed.embedders import HashingEmbedder; "
            f"a = Assistant.load({str(tmp_path / 'index')!r}, embedder=HashingEmbedder(64)); "
            "assert a.ask('Kremlin Astana').passages; print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "False"


def test_top_keeps_what_a_full_sort_keeps_ties_to_the_smaller_row() -> None:
    from qa.search.fusion import ranked, top

    rng = np.random.default_rng(0)
    for _ in range(200):
        ids = rng.permutation(1000)[: rng.integers(1, 60)]
        scores = rng.integers(0, 5, len(ids)).astype(np.float32)  # many ties
        depth = int(rng.integers(1, 70))
        want_ids, want_scores = ranked(ids, scores)
        got_ids, got_scores = top(ids, scores, depth)
        assert got_ids.tolist() == want_ids[:depth].tolist()
        assert got_scores.tolist() == want_scores[:depth].tolist()


def test_shard_moments_combine_into_the_corpus_s() -> None:
    from qa.index.calibration import zscores
    from qa.search.shards import Moments

    scores = np.random.default_rng(1).gamma(0.3, 2.0, 5000).astype(np.float32)
    assert np.array_equal(Moments.of(scores).zscores(scores), zscores(scores))  # one shard: bit for bit
    parts = Moments.combined([Moments.of(part) for part in np.split(scores, [7, 1200, 1201, 4000])])
    assert np.allclose(parts.zscores(scores), zscores(scores), rtol=0, atol=1e-12)
    assert np.array_equal(Moments.of(np.ones(5)).zscores(np.ones(3)), np.zeros(3))  # no spread: no preference


def test_a_cluster_is_refused_for_an_unsharded_index_before_connecting(seeds: Path, tmp_path: Path,
                                                                       embedder) -> None:
    pytest.importorskip("ray")
    from qa.errors import ClusterError

    built(seeds, tmp_path / "index", embedder)
    with pytest.raises(ClusterError, match=r"is not sharded: build it with `qa index --shards N`"):
        Assistant.load(tmp_path / "index", embedder=embedder, cluster="127.0.0.1:1")


def test_an_unreachable_cluster_is_one_clear_error(seeds: Path, tmp_path: Path, embedder) -> None:
    pytest.importorskip("ray")
    from qa.errors import ClusterError

    built(seeds, tmp_path / "index", embedder, shards=2)
    with pytest.raises(ClusterError, match=r"cannot reach the Ray cluster at 127.0.0.1:1 .*`ray start --head`"):
        Assistant.load(tmp_path / "index", embedder=embedder, cluster="127.0.0.1:1")

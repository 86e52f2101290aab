"""The per-user cache of converted models (issue 12, defect 3): one export per user, not one per index folder.

Fast: the OpenVINO export and encoder are replaced by fakes that count exports and embed with the hashing embedder,
so the cache's own logic (sharing, checksums, atomic swap, the terminal step) is what is tested.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa.embed import model_cache, runtimes
from qa.embed.embedders import HashingEmbedder, SentenceTransformerEmbedder
from qa.index.build import build_index
from qa.serve import cli


class FakeEncoder:
    def __init__(self, xml: Path, *args, **kwargs):
        assert xml.is_file()
        self.hashing = HashingEmbedder(384)

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        return self.hashing.embed(texts)


@pytest.fixture
def exports(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Path]:
    """Every export made, by folder; the fake writes a small IR pair. The user's model cache starts empty: the
    session's private home may already hold a real export from an earlier test, which would leave nothing to count."""
    monkeypatch.setenv("QA_MODEL_CACHE", str(tmp_path / "user-model-cache"))
    made: list[Path] = []

    def fake_export(model_dir: Path, folder: Path) -> None:
        made.append(folder)
        (folder / "model.xml").write_text("<net/>")
        (folder / "model.bin").write_bytes(b"\0" * 4096)

    monkeypatch.setattr(runtimes, "export_openvino", fake_export)
    monkeypatch.setattr(runtimes, "OpenVinoEncoder", FakeEncoder)
    monkeypatch.setattr(runtimes, "openvino_available", lambda: True)
    monkeypatch.setattr(runtimes, "cuda_available", lambda: False)
    return made


def _embedder(cache: Path | None = None) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(variant="openvino-fp32", device="cpu", model_cache=cache)


def test_two_index_folders_share_one_export(exports, small_corpus: Path, tmp_path: Path, capsys) -> None:
    cli.main(["index", "--corpus", str(small_corpus), "--index", str(tmp_path / "a"), "--variant", "openvino-fp32",
              "--json"])
    assert len(exports) == 1
    out, err = capsys.readouterr()
    assert "preparing the model for this CPU, once" in err and "done in" in err  # its own step, on stderr
    assert err.index("done in") < err.index("embedding")  # before the bar: not counted as embedding time
    first = json.loads(out)
    cli.main(["index", "--corpus", str(small_corpus), "--index", str(tmp_path / "b"), "--variant", "openvino-fp32",
              "--json"])
    assert len(exports) == 1, "the second index folder exported the model again"
    out, err = capsys.readouterr()
    assert "preparing the model" not in err
    assert first["chunks_embedded"] == json.loads(out)["chunks_embedded"] > 0
    # in the per-user model cache, not in either index folder
    entry = model_cache.user_model_cache() / f"{_embedder().fingerprint}-openvino"
    assert (entry / "model.xml").is_file() and (entry / model_cache.STAMP).is_file()
    assert not list((tmp_path / "a").rglob("model.xml")) and not list((tmp_path / "b").rglob("model.xml"))


def test_a_quiet_build_prepares_silently_and_the_keyword_wins(exports, small_corpus: Path, tmp_path: Path,
                                                             capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_MODEL_CACHE", str(tmp_path / "from-env"))
    assert _embedder().model_cache == tmp_path / "from-env"
    build_index(small_corpus, tmp_path / "index", _embedder(tmp_path / "mine"), progress=False)
    assert capsys.readouterr().err == ""  # a library call says nothing unless given a notify
    assert [p.parent for p in exports] == [tmp_path / "mine"] and not (tmp_path / "from-env").exists()


@pytest.mark.parametrize("damage", ["truncated weights", "no stamp (a killed export)", "other source weights",
                                    "stamp not json", "file missing"])
def test_a_damaged_or_partial_entry_is_exported_again_not_used(exports, tmp_path: Path, damage: str) -> None:
    _embedder(tmp_path).embed(["warm up"])
    entry = exports[0].with_name(f"{_embedder().fingerprint}-openvino")
    stamp = entry / model_cache.STAMP
    if damage == "truncated weights":
        (entry / "model.bin").write_bytes(b"\0" * 100)
    elif damage == "no stamp (a killed export)":
        stamp.unlink()
    elif damage == "other source weights":
        stamp.write_text(json.dumps({**json.loads(stamp.read_text()), "source": "0123456789abcdef"}))
    elif damage == "stamp not json":
        stamp.write_text("{")
    else:
        (entry / "model.xml").unlink()
    assert not model_cache.entry_ready(entry, "openvino", runtimes.EXPORT_VERSION, _embedder().fingerprint)
    _embedder(tmp_path).embed(["warm up"])
    assert len(exports) == 2, f"a cache entry with {damage} was used"
    assert model_cache.entry_ready(entry, "openvino", runtimes.EXPORT_VERSION, _embedder().fingerprint)
    assert (entry / "model.bin").stat().st_size == 4096
    assert sorted(p.name for p in tmp_path.iterdir()) == [entry.name]  # no temporary or stale folder left


def test_a_failed_export_leaves_no_entry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def half_export(folder: Path) -> None:
        (folder / "model.xml").write_text("<net/>")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        model_cache.prepared(tmp_path / "e", "openvino", 1, "fp", half_export)
    assert list(tmp_path.iterdir()) == []

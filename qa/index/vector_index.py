"""Which FAISS index holds the vectors, chosen by corpus size or by flag, and how it is searched.

Three kinds, all inner product on L2-normalised vectors (so scores are cosine similarities):

- ``flat``: exact search (``IndexScalarQuantizer``). The default below ``ANN_THRESHOLD`` vectors, where a scan of
  every vector is already fast (SciFact's 11,622 chunks: well under a millisecond; 100k: about 4 ms).
- ``ivf``: vectors bucketed by k-means (``IndexIVFScalarQuantizer``); ``nlist`` buckets (about 2 sqrt(n)) trained
  on a sample, ``nprobe`` of them scanned per query, set when the index is loaded. The default from
  ``ANN_THRESHOLD`` up.
- ``hnsw``: a graph (``IndexHNSWSQ``); ``m`` links per node and ``ef_construction`` fixed at build time,
  ``ef_search`` (the breadth of the search) set when the index is loaded. By flag only.

Each kind keeps its vectors in half precision (``storage="fp16"``, FAISS's fp16 scalar quantizer) unless the spec
says ``fp32`` (the plain ``IndexFlatIP``, ``IndexIVFFlat``, ``IndexHNSWFlat``). Why: the vectors are most of a
loaded index's memory and fp16 halves them, while a cosine computed from fp16 components differs from the fp32
one by about 1e-4 (SciFact nDCG@10 within 0.0001 of fp32's, dense and hybrid; 0.9997 of the exact fp32 top 10 at
1M), and scanning half the bytes is faster (exact search over 1M vectors: 34 ms against 56 ms). ``vectors.npy``
keeps the fp32 vectors for rebuilds; searches read only the index. Indexes written before ``storage`` existed hold
fp32 vectors and load as such; the next ``qa index`` converts them without embedding anything.

Why IVF for ``auto`` (synthetic vectors shaped like SciFact's at 1M chunks on 2 cores, docs/benchmarks.md):
nprobe 64 of 2048 buckets finds 0.99 of the exact top 10 in about 1.4 ms and builds in about 22 s, where HNSW
(m 32) needs efSearch 1024 to pass 0.95 (0.96 in 2 ms), builds five times slower and adds 256 bytes a vector for
its links (IVF: 16, its ids and the row map of ``vectors_of``). The chosen kind and its parameters are stored in
the manifest's ``"index"`` entry; ``configure`` applies the search-time parameters to a loaded index.

Example::

    >>> spec = choose_spec(1_000_000)
    >>> spec.kind, spec.to_dict()["nlist"], spec.to_dict()["nprobe"]
    ('ivf', 2048, 64)
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from qa.errors import REBUILD_HINT, IndexCorruptError, SettingsError

KINDS = ("flat", "hnsw", "ivf")
STORAGES = ("fp16", "fp32")
SEARCH_THREADS = 1  # see ``configure``
ANN_THRESHOLD = 200_000  # below this many vectors, exact search is fast enough and `auto` stays exact
METRIC = "inner_product"


@dataclass(frozen=True)
class IndexSpec:
    """The kind of FAISS index and its parameters; what the manifest stores under ``"index"``."""

    kind: str = "flat"
    m: int = 32  # hnsw: links per node
    ef_construction: int = 80  # hnsw: breadth while building
    ef_search: int = 1024  # hnsw: breadth while searching (set at load)
    nlist: int = 0  # ivf: number of buckets (0: chosen from the number of vectors)
    nprobe: int = 64  # ivf: buckets scanned per query (set at load)
    storage: str = "fp16"  # how the index holds each vector component

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise SettingsError(f"index kind {self.kind!r} is not one of {', '.join(KINDS)}: use --index-kind auto")
        if self.storage not in STORAGES:
            raise SettingsError(f"vector storage {self.storage!r} is not one of {', '.join(STORAGES)}")
        for name in ("m", "ef_construction", "ef_search", "nprobe"):
            if getattr(self, name) < 1:
                raise SettingsError(f"index parameter {name}={getattr(self, name)} must be at least 1")
        if self.nlist < 0:
            raise SettingsError(f"index parameter nlist={self.nlist} must be 0 (automatic) or more")

    def to_dict(self) -> dict[str, Any]:
        """Only the parameters that mean something for this kind, plus the metric."""
        data = asdict(self)
        keep = {"flat": (), "hnsw": ("m", "ef_construction", "ef_search"), "ivf": ("nlist", "nprobe")}[self.kind]
        return {"kind": self.kind, "metric": METRIC, "storage": self.storage, **{k: data[k] for k in keep}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexSpec:
        if not isinstance(data, dict) or data.get("metric", METRIC) != METRIC:
            raise IndexCorruptError(f"the manifest's index entry {data!r} is not an inner-product FAISS index")
        fields = {k: int(v) for k, v in data.items() if k in cls.__dataclass_fields__ and k not in ("kind", "storage")}
        try:  # an index written before ``storage`` existed holds fp32 vectors
            return cls(kind=str(data.get("kind", "flat")), storage=str(data.get("storage", "fp32")), **fields)
        except SettingsError as exc:
            raise IndexCorruptError(f"the manifest's index entry is not usable ({exc})") from exc


def auto_nlist(n_vectors: int) -> int:
    """About 2 * sqrt(n) buckets, a power of two: 1M vectors -> 2048 buckets of ~500."""
    return max(1, 2 ** round(math.log2(max(1.0, 2 * math.sqrt(n_vectors)))))


def choose_spec(n_vectors: int, kind: str = "auto", **params: int) -> IndexSpec:
    """The spec for ``n_vectors``: ``auto`` is exact below ``ANN_THRESHOLD`` and IVF from there on."""
    if kind == "auto":
        kind = "flat" if n_vectors < ANN_THRESHOLD else "ivf"
    spec = IndexSpec(kind=kind, **{k: v for k, v in params.items() if v is not None})
    if spec.kind == "ivf":
        # subtle: k-means needs more points than buckets; a tiny corpus gets few buckets (and is scanned whole).
        nlist = spec.nlist or auto_nlist(n_vectors)
        spec = replace(spec, nlist=max(1, min(nlist, n_vectors // 39 or 1)))
    return spec


def build(vectors: np.ndarray, spec: IndexSpec, *, seed: int = 0) -> Any:
    """A FAISS index of ``spec``'s kind holding ``vectors`` (float32, one row per chunk, row order kept).

    Built with every core (k-means and graph construction scale with threads); searched with ``SEARCH_THREADS``.
    """
    import faiss

    faiss.omp_set_num_threads(os.cpu_count() or 1)
    try:
        return _build(vectors, spec, seed)
    finally:
        faiss.omp_set_num_threads(SEARCH_THREADS)


def _build(vectors: np.ndarray, spec: IndexSpec, seed: int) -> Any:
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1]
    half, fp16, ip = spec.storage == "fp16", faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
    if spec.kind == "flat":
        index = faiss.IndexScalarQuantizer(dim, fp16, ip) if half else faiss.IndexFlatIP(dim)
    elif spec.kind == "hnsw":
        index = faiss.IndexHNSWSQ(dim, fp16, spec.m, ip) if half else faiss.IndexHNSWFlat(dim, spec.m, ip)
        index.hnsw.efConstruction = spec.ef_construction
    else:
        quantizer = faiss.IndexFlatIP(dim)
        if half:  # vectors stored as they are, not as residuals from their bucket: no loss to compensate
            index = faiss.IndexIVFScalarQuantizer(quantizer, dim, spec.nlist, fp16, ip, False)
        else:
            index = faiss.IndexIVFFlat(quantizer, dim, spec.nlist, ip)
        index.own_fields = True
        quantizer.this.disown()  # the IVF index frees its quantizer
        index.cp.seed = seed
        sample = _sample(vectors, spec.nlist * 64, seed)
        if len(sample):
            index.train(sample)
    if len(vectors):
        index.add(vectors)
    if spec.kind == "ivf":
        index.make_direct_map()  # row -> bucket and slot, so ``vectors_of`` can read any row (8 bytes a vector)
    configure(index, spec)
    return index


def _sample(vectors: np.ndarray, size: int, seed: int) -> np.ndarray:
    if len(vectors) <= size:
        return vectors
    rows = np.sort(np.random.default_rng(seed).choice(len(vectors), size, replace=False))
    return vectors[rows]


def configure(index: Any, spec: IndexSpec) -> None:
    """Check that a loaded index is of ``spec``'s kind and set its search-time parameters.

    subtle: FAISS's thread count is global to the process. Questions come one at a time, and one query gains
    little from a second thread on 2 cores but loses badly when the other core is busy (exact search over 1M
    vectors: 114 ms with one thread, 809 ms with two while other jobs ran; docs/benchmarks.md), so searches
    use ``SEARCH_THREADS``.
    """
    import faiss

    faiss.omp_set_num_threads(SEARCH_THREADS)
    if _storage_kind(index) != (spec.kind, spec.storage):
        raise IndexCorruptError(
            f"the manifest says the vectors are in a {spec.kind} index ({spec.storage}) but vectors.faiss holds a "
            f"{type(index).__name__}: {REBUILD_HINT}"
        )
    if spec.kind == "hnsw":
        index.hnsw.efSearch = spec.ef_search
    elif spec.kind == "ivf":
        index.nprobe = min(spec.nprobe, index.nlist)
        if index.direct_map.type == faiss.DirectMap.NoMap:  # written by a qa from before ``vectors_of``
            index.make_direct_map()


def vectors_of(index: Any, rows: np.ndarray) -> np.ndarray:
    """The vectors of ``rows`` as the index holds them (fp16 storage: decoded to float32)."""
    return index.reconstruct_batch(np.asarray(rows, dtype=np.int64))


def _storage_kind(index: Any) -> tuple[str, str] | None:
    """(kind, storage) of a FAISS index as ``_build`` makes them, or None for any other index."""
    import faiss

    for cls, kind, storage in ((faiss.IndexFlat, "flat", "fp32"), (faiss.IndexScalarQuantizer, "flat", "fp16"),
                               (faiss.IndexHNSWFlat, "hnsw", "fp32"), (faiss.IndexHNSWSQ, "hnsw", "fp16"),
                               (faiss.IndexIVFFlat, "ivf", "fp32"), (faiss.IndexIVFScalarQuantizer, "ivf", "fp16")):
        if isinstance(index, cls):
            return kind, storage
    return None


def restricted(index: Any, selector: Any) -> Any:
    """Search parameters that keep ``index`` to ``selector``'s rows with its own ``ef_search`` / ``nprobe``.

    subtle: FAISS takes an HNSW or IVF index's breadth from the parameters object when one is passed (a plain
    ``SearchParameters`` silently drops HNSW to efSearch 16, and an IVF index refuses it).
    """
    import faiss

    if isinstance(index, faiss.IndexHNSW):
        return faiss.SearchParametersHNSW(sel=selector, efSearch=index.hnsw.efSearch)
    if isinstance(index, faiss.IndexIVF):
        return faiss.SearchParametersIVF(sel=selector, nprobe=index.nprobe)
    return faiss.SearchParameters(sel=selector)


def recall_at_k(approx: np.ndarray, exact: np.ndarray) -> float:
    """Mean fraction of each exact top-k row found in the approximate top-k row (ids; -1 never matches)."""
    if exact.size == 0:
        return 1.0
    hits = [len(set(a[a >= 0].tolist()) & set(e[e >= 0].tolist())) for a, e in zip(approx, exact, strict=True)]
    return float(np.sum(hits) / max(1, int((exact >= 0).sum())))

"""A build's heavy steps on a Ray cluster: files read and chunked as Ray tasks, texts embedded by an actor pool.

``RayEngine`` is a ``qa.index.engine.Engine``: ``build_index(..., engine=RayEngine("auto"))`` (``qa index --engine
ray``) plans, caches and writes exactly as the local build does; only reading, chunking and embedding run on the
cluster. Plain remote tasks, one batch of files (or documents) per CPU of the cluster, rather than Ray Data: a
build hands over a list and needs it back whole, which a few tasks do at the least overhead.

The embedding actors load the model once each (``qa.embed.embedders.embedder_for``, so a GPU actor runs fp16 and
a CPU actor the variant measured fastest on its machine) and must report the fingerprint the build embeds under.
A block whose actor is lost (its node died) goes to another actor; with none left the build stops with a
``ClusterError``, and what was embedded so far is in the embedding cache for the next run. Every node needs ``qa``
installed and the corpus at the same path (a shared folder), as ``ray start`` nodes of one cluster share code.
"""

from __future__ import annotations

import functools
import socket
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from qa.cluster.placement import round_robin
from qa.embed.embedders import Embedder, embedder_for
from qa.errors import ClusterError
from qa.index.engine import Chunked, EmbeddedBlock, chunk_documents
from qa.ingest.corpus import FilesRead, Previous, read_files
from qa.records import Document
from qa.settings import Settings

EmbedderFactory = Callable[[], Embedder]
IN_FLIGHT = 2  # blocks queued per actor: the next one is there when one finishes


def recipe(embedder: Embedder) -> EmbedderFactory:
    """How a worker makes the same embedder: the model by name, run as the build asked (auto: its own best).

    >>> from qa.embed.embedders import HashingEmbedder
    >>> recipe(HashingEmbedder(32))().fingerprint
    'hashing-v1-32'
    """
    return functools.partial(embedder_for, embedder.name, getattr(embedder, "requested_device", None),
                             getattr(embedder, "requested_variant", None))


def _chunk_batch(documents: list[Document], make_embedder: EmbedderFactory, settings: Settings) -> list[Chunked]:
    return chunk_documents(documents, make_embedder(), settings)


class _EmbedWorker:
    """One actor of the pool: the model loaded once, then block after block."""

    def __init__(self, make_embedder: EmbedderFactory):
        import ray

        from qa.embed.runtimes import limit_threads

        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 0)
        if cpus >= 1:  # one thread per CPU Ray gave this actor; a GPU actor (0 CPUs) leaves its threads alone
            limit_threads(int(cpus))
        self.embedder = make_embedder()
        self.embedder.prepare()
        self.node = ray.get_runtime_context().get_node_id()

    def describe(self) -> tuple[str, str]:
        """The fingerprint it embeds under, and its node."""
        return self.embedder.fingerprint, self.node

    def embed(self, block: int, texts: list[str], batch_size: int) -> EmbeddedBlock:
        return EmbeddedBlock(block, self.embedder.embed(texts, batch_size=batch_size), self.node)


def _split(items: Sequence[Any], parts: int) -> list[list[Any]]:
    """``items`` in ``parts`` contiguous runs of nearly equal length (none empty), order kept."""
    parts = max(1, min(parts, len(items)))
    size, extra = divmod(len(items), parts)
    bounds = [i * size + min(i, extra) for i in range(parts + 1)]
    return [list(items[bounds[i]:bounds[i + 1]]) for i in range(parts)]


def _check_reachable(address: str) -> None:
    """Ray retries a wrong address for minutes: refuse one where nothing listens, at once."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"--address {address!r} is not HOST:PORT: give the head's address as `ray start --head` "
                           "printed it (e.g. 10.0.0.5:6379), or auto")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise ClusterError(f"no Ray cluster answers at {address} ({exc.strerror or exc}): start one with "
                           "`ray start --head` there, or pass the head's HOST:PORT with --address") from None


class RayEngine:
    """Reading, chunking and embedding on the Ray cluster at ``address`` (``auto``: the one this machine is part
    of). ``actors`` is the size of the embedding pool (default: one per GPU where the cluster has GPUs, else one
    per CPU); ``block`` is the texts per actor call and per cache commit; ``make_embedder`` makes a worker's
    embedder (default: the build's model, by ``recipe``)."""

    def __init__(self, address: str = "auto", *, actors: int | None = None, block: int = 256,
                 make_embedder: EmbedderFactory | None = None):
        if block < 1 or (actors is not None and actors < 1):
            raise ClusterError(f"actors ({actors}) and block ({block}) must be at least 1")
        self.address = address
        self.actors = actors
        self.block = block
        self.make_embedder = make_embedder
        self.read_nodes: set[str] = set()  # where the read and chunk tasks ran
        self.embedded_by: dict[str, int] = {}  # node id -> texts its actors embedded
        self.lost_actors = 0
        self.actor_nodes: list[str] = []  # the node of each embedding actor, as started

    def _ray(self):
        try:
            import ray
        except ImportError:
            raise ClusterError("--engine ray needs Ray: pip install 'qa[cluster]' (ray[data,serve])") from None
        if not ray.is_initialized():
            if self.address != "auto":
                _check_reachable(self.address)
            try:
                ray.init(address=self.address, logging_level="ERROR", log_to_driver=False)
            except (ConnectionError, RuntimeError) as exc:
                raise ClusterError(f"cannot join the Ray cluster at {self.address} ({exc}): start one with "
                                   "`ray start --head`, or pass the head's HOST:PORT with --address") from None
        return ray

    def _cpus(self, ray) -> int:
        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    def _run_tasks(self, function: Callable, calls: list[tuple[Any, ...]]) -> list[Any]:
        """``function(*call)`` for every call, as one Ray task each, spread over the nodes (``round_robin``); the
        results in order."""
        ray = self._ray()
        task = ray.remote(num_cpus=1)(_located(function))
        places = round_robin(ray, len(calls), CPU=1)
        try:
            done = ray.get([task.options(scheduling_strategy=place).remote(*call)
                            for place, call in zip(places, calls, strict=True)])
        except ray.exceptions.RayError as exc:
            raise ClusterError(f"a task on the Ray cluster failed: {_cause(exc)}") from None
        self.read_nodes.update(node for node, _ in done)
        return [result for _, result in done]

    def read_files(self, files: list[tuple[Path, str]], previous: Previous, settings: Settings) -> FilesRead:
        if not files:
            return FilesRead()
        batches = _split(files, self._cpus(self._ray()))
        # subtle: each task is sent only its files' part of the previous build, not the whole corpus
        return FilesRead.combine(self._run_tasks(
            read_files, [(batch, previous.of_files(rel for _, rel in batch), settings) for batch in batches]))

    def chunk(self, documents: list[Document], embedder: Embedder, settings: Settings) -> list[Chunked]:
        if not documents:
            return []
        make = self.make_embedder or recipe(embedder)
        batches = _split(documents, self._cpus(self._ray()))
        parts = self._run_tasks(_chunk_batch, [(batch, make, settings) for batch in batches])
        return [chunked for part in parts for chunked in part]

    def prepare(self, embedder: Embedder) -> None:
        """Nothing here: each actor loads its model as it starts."""

    def embed(self, blocks: list[list[str]], embedder: Embedder, settings: Settings) -> Iterator[EmbeddedBlock]:
        if not blocks:
            return
        ray = self._ray()
        workers = self._start_pool(ray, embedder, len(blocks))
        queue, running = deque(range(len(blocks))), {}
        idle = [worker for _ in range(IN_FLIGHT) for worker in workers]  # round robin: every actor has work
        while queue or running:
            while queue and idle:
                worker, block = idle.pop(0), queue.popleft()
                running[worker.embed.remote(block, blocks[block], settings.batch_size)] = (block, worker)
            if not running:
                raise ClusterError(f"the cluster lost every embedding actor ({self.lost_actors}) with "
                                   f"{len(queue)} blocks left: the previous index still answers; restart the nodes "
                                   "and run the build again: what was embedded is reused")
            (ref,), _ = ray.wait(list(running), num_returns=1)
            block, worker = running.pop(ref)
            try:
                done = ray.get(ref)
            except ray.exceptions.RayActorError:  # its node is gone: the block goes to another actor
                queue.appendleft(block)
                self.lost_actors += worker in workers
                workers = [w for w in workers if w != worker]
                idle = [w for w in idle if w != worker]
                continue
            except ray.exceptions.RayError as exc:
                raise ClusterError(f"embedding on the Ray cluster failed: {_cause(exc)}") from None
            idle.append(worker)
            self.embedded_by[done.node] = self.embedded_by.get(done.node, 0) + len(blocks[block])
            yield done

    def _start_pool(self, ray, embedder: Embedder, blocks: int) -> list:
        """The actors, each with its model loaded, checked to embed under the build's fingerprint."""
        gpus = int(ray.cluster_resources().get("GPU", 0))
        count = min(self.actors or gpus or self._cpus(ray), blocks)
        actor = ray.remote(num_cpus=0 if gpus else 1, num_gpus=1 if gpus else 0)(_EmbedWorker)
        workers = [actor.options(scheduling_strategy=place).remote(self.make_embedder or recipe(embedder))
                   for place in round_robin(ray, count, **({"GPU": 1} if gpus else {"CPU": 1}))]
        try:
            described = ray.get([worker.describe.remote() for worker in workers])
        except ray.exceptions.RayError as exc:
            raise ClusterError(f"the embedding actors could not start: {_cause(exc)}") from None
        self.actor_nodes = [node for _, node in described]
        prints = [fingerprint for fingerprint, _ in described]
        if set(prints) != {embedder.fingerprint}:
            raise ClusterError(f"the cluster's embedding actors run model {sorted(set(prints))}, the build "
                               f"{embedder.fingerprint}: install the same qa and model on every node")
        return workers


def _located(function: Callable) -> Callable:
    """``function`` made to return the node it ran on with its result."""

    @functools.wraps(function)
    def run(*args: Any) -> tuple[str, Any]:
        import ray

        return ray.get_runtime_context().get_node_id(), function(*args)

    return run


def _cause(exc: BaseException) -> str:
    """The error a remote task raised (Ray wraps it), as one line."""
    cause = getattr(exc, "cause", None) or exc
    return f"{type(cause).__name__}: {str(cause).strip().splitlines()[-1] if str(cause).strip() else ''}"

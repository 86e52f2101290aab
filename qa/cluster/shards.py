"""A sharded generation answered on a Ray cluster: one actor per shard, spread over the cluster's nodes.

``Assistant.load(index, cluster=ADDRESS)`` (and ``qa serve --cluster ADDRESS``) keeps the documents and chunk rows
in the serving process (passages, grouping, duplicates) and asks ``ShardActor``s for candidates; merging and
everything after it are ``qa.search.shards``'s, as in one process, so the answers are the same.

- Placement: shard ``s`` goes to the ``s``-th live node (modulo the nodes), so the shards spread over the
  nodes. Every node reads its shard from the index folder, which must be at the same path on every node (a
  shared or copied folder); each actor checks its shard's checksums before it answers.
- Time: a question waits ``timeout`` seconds for the shards; one that has not answered by then is named in the
  result's ``missing`` (never fewer results in silence). An actor that dies is restarted by Ray
  (``max_restarts=-1``) and loads its shard again, while the server goes on answering.
- Generations: actors belong to one generation. A rebuild gets a new set of actors, ready before it replaces the
  old set in one assignment; a shard's answer names its generation and one from another is refused, so no
  question is answered from two. The old actors end when the last question holding them is done (Ray ends an
  actor when no handle to it is left).
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import ray

from qa.cluster.placement import round_robin
from qa.errors import REBUILD_HINT, ClusterError, IndexCorruptError, QAError
from qa.index import store
from qa.index.calibration import DenseStats
from qa.index.shards import load_shard
from qa.search.shards import Candidates, Request, ShardedSearcher, ShardSearch

log = logging.getLogger(__name__)
ANSWER_TIMEOUT_S = 10.0  # how long a question waits for the shards
START_TIMEOUT_S = 120.0  # how long loading the shards may take when a generation is picked up
NAMESPACE = "qa"


def connect(address: str) -> None:
    """Join the Ray cluster at ``address`` (``auto``, ``HOST:PORT`` or ``ray://HOST:PORT``) once per process."""
    if ray.is_initialized():
        return
    host, _, port = address.rpartition(":")
    if host and port.isdigit() and "://" not in address:  # fail in seconds, not after Ray's long retries
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
        except OSError as exc:
            raise ClusterError(f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}): start it with "
                               "`ray start --head`, or pass its head's address") from None
    try:
        ray.init(address=address, namespace=NAMESPACE, logging_level=logging.WARNING, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterError(f"cannot reach the Ray cluster at {address} ({type(exc).__name__}: {exc}): start it with "
                           "`ray start --head` (and `ray start --address HEAD:6379` on the other nodes), or pass "
                           "its address") from None


# A shard actor mostly waits for questions, so it asks for a token share of a CPU: some resource, so that Ray honours
# its placement (an actor that asks for none goes to a random node: qa.cluster.placement), too little to keep a
# build's tasks off the node.
SHARD_ACTOR_CPUS = 0.01


@ray.remote(max_restarts=-1, max_task_retries=0, num_cpus=SHARD_ACTOR_CPUS)
class ShardActor:
    """One shard of one generation, loaded on a cluster node (again by Ray's restart, if the actor dies)."""

    def __init__(self, gen: str, shard: int):
        generation = Path(gen)
        manifest = store.read_manifest(generation)
        entry = manifest.shards[shard]
        store.verify_files(generation, manifest, under=entry.folder)
        self.search = ShardSearch(load_shard(generation, manifest, entry), entry)

    def candidates(self, request: Request) -> Candidates:
        return self.search.candidates(request)

    def where(self) -> tuple[str, int]:
        """The node this actor runs on and its process id (for the tests and the placement check)."""
        import os

        return ray.get_runtime_context().get_node_id(), os.getpid()


class RayFanout:
    """The actors of one generation's shards: a question goes to all of them at once."""

    def __init__(self, data: store.IndexData, *, timeout: float = ANSWER_TIMEOUT_S):
        self.timeout = timeout
        # shard s on node s modulo the nodes (soft: anywhere, when Ray restarts it after that node is gone)
        places = round_robin(ray, len(data.manifest.shards), CPU=SHARD_ACTOR_CPUS)
        self.actors = [ShardActor.options(scheduling_strategy=place).remote(str(data.path), s)
                       for s, place in enumerate(places)]
        self._wait_until_loaded(data)

    def _wait_until_loaded(self, data: store.IndexData) -> None:
        refs = [actor.where.remote() for actor in self.actors]
        done, _ = ray.wait(refs, num_returns=len(refs), timeout=START_TIMEOUT_S)
        try:
            self.places = ray.get(done) if len(done) == len(refs) else None
        except ray.exceptions.RayActorError as exc:  # an actor's __init__ raised: its shard cannot be loaded
            cause = exc.cause if isinstance(getattr(exc, "cause", None), QAError) else None
            raise (cause or IndexCorruptError(f"a shard of {data.path} cannot be loaded on the cluster ({exc}): "
                                              f"{REBUILD_HINT}")) from None
        if self.places is None:
            raise ClusterError(f"the cluster did not load the {len(refs)} shards of {data.path} within "
                               f"{START_TIMEOUT_S:.0f} s: add nodes (or memory), or use fewer shards")

    def ask(self, request: Request) -> list[Candidates | None]:
        refs = [actor.candidates.remote(request) for actor in self.actors]
        done, _ = ray.wait(refs, num_returns=len(refs), timeout=self.timeout)
        answered = set(done)
        answers: list[Candidates | None] = []
        for shard, ref in enumerate(refs):
            try:
                answers.append(ray.get(ref) if ref in answered else None)
            except ray.exceptions.RayError as exc:  # the actor died while answering: Ray restarts it
                log.warning("shard %d did not answer (%s)", shard + 1, type(exc).__name__)
                answers.append(None)
        return answers


def cluster_searcher(index_dir: Path, *, address: str, timeout: float = ANSWER_TIMEOUT_S) -> ShardedSearcher:
    """The live sharded generation of ``index_dir``, its shards on the cluster at ``address``."""
    data = store.load(index_dir, shard_indexes=False)
    if not data.shards:
        raise ClusterError(f"the index at {index_dir} is not sharded: build it with `qa index --shards N` "
                           "(N shards, say one or two per node) to answer from a cluster")
    connect(address)
    stats = DenseStats.load(data.path, dim=int(data.manifest.model.dim))
    return ShardedSearcher(data, stats, RayFanout(data, timeout=timeout))

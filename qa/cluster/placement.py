"""Where the cluster's work goes: item i on the i-th alive node, round robin.

Ray's default scheduler packs tasks onto the node that asks until it is busy, and its SPREAD strategy is best
effort (it put actors that need no CPU on one node): with a few quick tasks or light actors, one node did all the
work. Each item is pinned to a node instead, softly, so that Ray places it anywhere when that node is gone (a
retried task, a restarted actor).

Every pinned item must ask for some resource: Ray places an item that asks for none (``num_cpus=0`` and nothing
else) on a random node, whatever its strategy; only hard node affinity overrides that (ray-project/ray#25360). On
the test cluster (a head and two workers, one worker killed and started again before each try, three actors pinned
one per node): with ``num_cpus=0``, none of four tries put all three where they were pinned; with
``num_cpus=0.01``, all five tries did.
"""

from __future__ import annotations

from typing import Any


def round_robin(ray: Any, count: int, **needs: float) -> list[Any]:
    """A scheduling strategy for each of ``count`` items: item i on the i-th alive node (sorted by id) that has
    the resources each item ``needs`` (``CPU=1``, ``GPU=1``; at least one, see above); Ray's default placement
    where no node has them.

    >>> round_robin(None, 2)
    Traceback (most recent call last):
    ValueError: round_robin needs the resources each item asks for (e.g. CPU=0.01): Ray places an item that ...
    """
    if not any(needs.values()):
        raise ValueError("round_robin needs the resources each item asks for (e.g. CPU=0.01): Ray places an item "
                         "that asks for none on a random node")
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = sorted(node["NodeID"] for node in ray.nodes() if node["Alive"]
                   and all(node.get("Resources", {}).get(name, 0) >= amount for name, amount in needs.items()))
    if not nodes:
        return ["DEFAULT"] * count
    return [NodeAffinitySchedulingStrategy(nodes[i % len(nodes)], soft=True) for i in range(count)]

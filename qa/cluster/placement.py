"""Where the cluster's work goes: item i on the i-th alive node, round robin.

Ray's default scheduler packs tasks onto the node that asks until it is busy, and its SPREAD strategy is best
effort (it put actors that need no CPU on one node): with a few quick tasks or light actors, one node did all the
work. Each item is pinned to a node instead, softly, so that Ray places it anywhere when that node is gone (a
retried task, a restarted actor).
"""

from __future__ import annotations

from typing import Any


def round_robin(ray: Any, count: int, **needs: float) -> list[Any]:
    """A scheduling strategy for each of ``count`` items: item i on the i-th alive node (sorted by id) that has
    the resources each item ``needs`` (``CPU=1``, ``GPU=1``); Ray's default placement where no node has them."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = sorted(node["NodeID"] for node in ray.nodes() if node["Alive"]
                   and all(node.get("Resources", {}).get(name, 0) >= amount for name, amount in needs.items()))
    if not nodes:
        return ["DEFAULT"] * count
    return [NodeAffinitySchedulingStrategy(nodes[i % len(nodes)], soft=True) for i in range(count)]

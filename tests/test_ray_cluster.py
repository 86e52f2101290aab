"""The test cluster itself (tests/ray_cluster.py): three nodes, tasks land on the node they are pinned to, a killed
node is gone and a new worker joins, and nothing of it is left outside the namespace."""

from __future__ import annotations

import pytest

from tests.ray_cluster import node_resource

pytestmark = pytest.mark.cluster

WHERE = """import sys, ray
ray.init(address=ADDRESS, logging_level="ERROR")

@ray.remote(num_cpus=0)
def where():
    return ray.get_runtime_context().get_node_id()

emit({name: ray.get(where.options(resources={"qa_node_" + name: 0.01}).remote()) for name in sys.argv[1:]})
"""


def test_a_task_pinned_to_each_node_runs_there(ray_cluster) -> None:
    ids = ray_cluster.node_ids()
    assert set(ids) == {"head", *ray_cluster.workers} and len(ray_cluster.workers) == 2
    assert len(set(ids.values())) == 3  # three raylets, three node ids
    assert ray_cluster.run(WHERE, *ids) == ids


def test_the_nodes_advertise_only_the_namespace_loopback(ray_cluster) -> None:
    addresses = ray_cluster.run("import ray\nray.init(address=ADDRESS, logging_level='ERROR')\n"
                                "emit(sorted({n['NodeManagerAddress'] for n in ray.nodes()}))")
    assert addresses == ["127.0.0.1"]


def test_a_killed_worker_is_gone_and_a_new_one_joins(ray_cluster) -> None:
    name = ray_cluster.workers[-1]
    before = ray_cluster.node_ids()[name]
    pids = ray_cluster.node_pids(name)
    assert pids
    ray_cluster.kill_node(name)
    assert not ray_cluster.node_pids(name)
    ray_cluster.start_worker(name)  # leave the session's cluster as it was found: two workers
    after = ray_cluster.node_ids()
    assert after[name] != before and set(after) == {"head", *ray_cluster.workers}
    assert node_resource(name) == f"qa_node_{name}"

"""A real multi-node Ray cluster for tests: a head and worker nodes, each its own ``ray start`` (its own raylet,
object store and workers), all inside a network namespace this module makes, so Ray advertises no host address and
no traffic leaves the namespace's loopback.

Use the session fixture ``ray_cluster`` (from ``tests/conftest.py``); it skips with the reason where Ray, root or
network namespaces are missing. The driver code a test runs must run inside the namespace too::

    def test_two_nodes(ray_cluster):
        found = ray_cluster.run("import ray; ray.init(address=ADDRESS); emit(len(ray.nodes()))")
        assert found == 3

- ``run(code, *args)`` runs a Python snippet in the namespace and returns the value it passed to ``emit`` (last
  call wins; JSON on the way); ``ADDRESS`` (the head's ``HOST:PORT``) and ``emit`` are defined for it, and
  ``sys.argv[1:]`` are ``args``. It fails the test with the snippet's output if the snippet fails.
  ``script(code)`` writes such a snippet to a file, for a process the test drives itself; ``emitted(stdout)``
  reads its result.
- ``command(argv)`` is any command line made to run in the namespace, to be started with ``env`` (for a process the
  test drives itself, e.g. ``qa index --engine ray --address 127.0.0.1:6379``); ``ADDRESS`` is the head's address.
- ``workers`` names the worker nodes (``worker-1``, ``worker-2``); each node carries a resource named
  ``node_resource(name)``, so a task can be pinned to a node, and ``node_ids()`` maps names to Ray node ids.
- ``kill_node(name)`` kills every process of one node by process id (SIGKILL, as a lost machine);
  ``start_worker(name)`` starts a worker node again (or a new one).

Every node runs in a session of its own (``start_new_session``), so all its processes (raylet, agents, workers)
share that session id; teardown kills those sessions' processes and then any process still in the namespace, by
pid. Never ``ray stop`` or a kill by name: other Ray clusters may run on this machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HEAD_PORT = 6379
ADDRESS = f"127.0.0.1:{HEAD_PORT}"
RESULT = "qa-driver-result: "  # Ray may print to a driver's stdout too (worker logs): the result line is marked
PRELUDE = f"""ADDRESS = {ADDRESS!r}


def emit(value):
    import json
    print({RESULT!r} + json.dumps(value), flush=True)
"""
# Small nodes: one CPU each (so tasks spread), a small object store, no dashboard, no usage report.
NODE_OPTIONS = ("--node-ip-address", "127.0.0.1", "--object-store-memory", str(80 * 2**20), "--disable-usage-stats")


def emitted(stdout: str):
    """The value a driver passed to ``emit`` last, from its whole stdout (where Ray's log lines may be too)."""
    return json.loads([line for line in stdout.splitlines() if line.startswith(RESULT)][-1][len(RESULT):])


def node_resource(name: str) -> str:
    """The custom resource each node carries, ``worker-1`` -> ``qa_node_worker-1``: pins a task to that node."""
    return f"qa_node_{name}"


def cannot_run_here() -> str | None:
    """Why a cluster cannot start here, or None."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return "Ray is not installed (pip install 'ray[data,serve]')"
    if sys.platform != "linux" or os.geteuid() != 0:
        return "needs root on Linux for a network namespace (unshare -n)"
    for tool in ("unshare", "nsenter", "ip"):
        if not shutil.which(tool):
            return f"{tool} is missing (unshare, nsenter: util-linux; ip: iproute2)"
    probe = subprocess.run(["unshare", "-n", "ip", "link", "set", "lo", "up"], capture_output=True, text=True,
                           timeout=30)
    if probe.returncode:
        return f"cannot make a network namespace here: {probe.stderr.strip()}"
    return None


def _session_of(pid: str) -> int | None:
    """The session id of a live process (None for one gone or a zombie: killed, not yet reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, _, _, session = stat.rsplit(")", 1)[1].split()[:4]  # the fields after the command
    return None if state in "ZX" else int(session)


def _netns_of(pid: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def _pids(where) -> list[int]:
    return [int(pid) for pid in os.listdir("/proc") if pid.isdigit() and int(pid) != os.getpid() and where(pid)]


def _kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):  # gone already
            os.kill(pid, signal.SIGKILL)


class RayCluster:
    """A head and worker nodes in a network namespace of their own; see the module docstring."""

    def __init__(self, root: Path, timeout: float = 120):
        self.root = root
        self.timeout = timeout
        self._ids: dict[str, str] = {}  # node name -> Ray node id, as the head listed them when the last one started
        self._killed: set[str] = set()  # ids of nodes killed: the head may list them as alive for a few seconds
        # PYTHONHASHSEED: bm25s's files depend on the order of a set of terms, so two builds' lexical files are
        # byte-equal only under the same hash seed (the scores are the same under any).
        # HOME: a home of its own, so no user state leaks in (a ~/.ray/auth_token left by another Ray makes the
        # nodes refuse each other) and the model cache the actors fill goes when the cluster goes.
        home = root / "home"
        self.env = {**os.environ, "PYTHONPATH": str(REPO), "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1",
                    "HF_HUB_OFFLINE": "1", "PYTHONHASHSEED": "0", "HOME": str(home),
                    "XDG_CACHE_HOME": str(home / ".cache")}
        # The namespace lives as long as this holder process; every node and driver joins it with nsenter.
        self._holder = subprocess.Popen(["unshare", "-n", "sh", "-c", "ip link set lo up && exec sleep infinity"],
                                        start_new_session=True)
        self.netns = self._wait_for_namespace()
        self._nodes: dict[str, subprocess.Popen] = {}
        self.workers: list[str] = []
        self.worker_cpus = 1

    def start(self, workers: int = 2, head_cpus: int = 1, worker_cpus: int = 1) -> None:
        """Start the head and ``workers`` worker nodes of ``worker_cpus`` CPUs each, one after the other; returns
        once the cluster sees them. ``head_cpus=0``: the head runs no tasks or actors (a benchmark's worker nodes
        then do all the work, and share out the machine's cores with ``worker_cpus``)."""
        self.worker_cpus = worker_cpus
        self._start_node("head", "--head", "--port", str(HEAD_PORT), "--include-dashboard", "false",
                         "--temp-dir", str(self.root / "ray"), "--num-cpus", str(head_cpus))
        for i in range(1, workers + 1):
            self.start_worker(f"worker-{i}")
        self._wait_for_nodes(len(self._nodes))

    def _wait_for_namespace(self) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            netns = _netns_of(str(self._holder.pid))
            if netns and netns != _netns_of("self"):
                return netns
            time.sleep(0.05)
        raise RuntimeError("the network namespace did not appear within 30 s")

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` made to run inside the cluster's namespace."""
        return ["nsenter", "-t", str(self._holder.pid), "-n", *argv]

    def _start_node(self, name: str, *options: str, attempts: int = 3) -> None:
        """Start one node and wait until it has registered with the head. Ray gives a raylet 30 s to register
        (fixed in ``ray._private.node``), which a loaded 2-core machine can miss: such a node is killed and
        started again."""
        log_path = self.root / f"{name}.log"
        for _ in range(attempts):
            log_path.write_text("")
            with log_path.open("a") as log:
                self._nodes[name] = subprocess.Popen(
                    self.command([str(Path(sys.executable).with_name("ray")), "start", "--block", *NODE_OPTIONS,
                                  "--resources", json.dumps({node_resource(name): 1}), *options]),
                    env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            deadline = time.monotonic() + self.timeout
            while self._nodes[name].poll() is None and time.monotonic() < deadline:
                if "Ray runtime started" in log_path.read_text():
                    return
                time.sleep(0.2)
            self.kill_node(name)
        raise RuntimeError(f"ray node {name} did not start in {attempts} tries: {log_path.read_text()[-3000:]}")

    def start_worker(self, name: str) -> None:
        """Start a worker node (joining the head); returns once the head lists exactly the running nodes as alive,
        a node killed before no longer among them (the head takes a few seconds to declare a node dead: until then
        the next test would place work on it, and Ray would move that work to another node)."""
        if name in self._nodes and self._nodes[name].poll() is None:
            raise ValueError(f"{name} is already running")
        self._start_node(name, "--address", ADDRESS, "--num-cpus", str(self.worker_cpus))
        if name not in self.workers:
            self.workers.append(name)
        running = sorted(n for n, proc in self._nodes.items() if proc.poll() is None)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            alive = self._alive_nodes()
            if sorted(alive.values()) == running and not set(alive) & self._killed:
                self._ids = {named: node for node, named in alive.items()}
                return
            time.sleep(1)
        raise RuntimeError(f"the head did not list exactly {running} as alive within {self.timeout:g} s")

    def _alive_nodes(self) -> dict[str, str]:
        """Ray node id -> node name, for the nodes the head lists as alive now ({} when it cannot be asked)."""
        return self.run("import ray\nray.init(address=ADDRESS, logging_level='ERROR')\n"
                        "emit({n['NodeID']: r[len('qa_node_'):] for n in ray.nodes() if n['Alive']\n"
                        "      for r in n['Resources'] if r.startswith('qa_node_')})", check=False) or {}

    def _wait_for_nodes(self, count: int) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            alive = self.run("import ray\nray.init(address=ADDRESS, logging_level='ERROR')\n"
                             "emit(sum(n['Alive'] for n in ray.nodes()))", check=False)
            if alive == count:
                return
            time.sleep(1)
        raise RuntimeError(f"the cluster did not reach {count} live nodes within {self.timeout:g} s")

    def run(self, code: str, *args: str, timeout: float = 300, check: bool = True):
        """Run a Python snippet inside the namespace; the value it passed to ``emit`` last (None when it failed and
        ``check`` is False)."""
        ran = subprocess.run(self.command([sys.executable, str(self.script(code)), *args]), capture_output=True,
                             text=True, timeout=timeout, env=self.env, cwd=REPO)
        if ran.returncode or RESULT not in ran.stdout:
            if check:
                raise AssertionError(f"driver failed ({ran.returncode}): {ran.stdout[-1000:]}{ran.stderr[-3000:]}")
            return None
        return emitted(ran.stdout)

    def script(self, code: str) -> Path:
        """A driver script file of ``code`` with ``ADDRESS`` and ``emit``, for a process the test drives itself
        (``command([sys.executable, str(script), ...])``; ``emitted`` reads its result from its output)."""
        handle, name = tempfile.mkstemp(suffix=".py", prefix="driver-", dir=self.root)
        with os.fdopen(handle, "w") as out:
            out.write(f"{PRELUDE}\n{code}\n")
        return Path(name)

    def node_ids(self) -> dict[str, str]:
        """Node name -> Ray node id, for the nodes alive now."""
        return self.run("import ray\nray.init(address=ADDRESS, logging_level='ERROR')\n"
                        "emit({r[len('qa_node_'):]: n['NodeID'] for n in ray.nodes() if n['Alive']\n"
                        "      for r in n['Resources'] if r.startswith('qa_node_')})")

    def node_pids(self, name: str) -> list[int]:
        """Every process of one node (its session: raylet, agents, workers)."""
        session = self._nodes[name].pid
        return _pids(lambda pid: _session_of(pid) == session)

    def kill_node(self, name: str) -> None:
        """Kill one node's every process by pid, as a machine that is lost; the head notices within seconds."""
        if name in self._ids:  # no query here: a test kills a node mid-build, at once
            self._killed.add(self._ids.pop(name))
        _kill_all(self.node_pids(name))
        self._nodes[name].wait(timeout=30)
        deadline = time.monotonic() + 30
        while self.node_pids(name) and time.monotonic() < deadline:  # children reaped by init, a moment later
            time.sleep(0.1)

    def close(self) -> None:
        """Kill every node's processes, then whatever is still in the namespace, then the namespace itself."""
        for name in list(self._nodes):
            _kill_all(self.node_pids(name))
        _kill_all(_pids(lambda pid: _netns_of(pid) == self.netns))
        for proc in [*self._nodes.values(), self._holder]:
            proc.wait(timeout=30)


@contextlib.contextmanager
def running_cluster(workers: int = 2, head_cpus: int = 1, worker_cpus: int = 1) -> Iterator[RayCluster]:
    """A started cluster, closed (every process ended by pid, its folder removed) when the block ends."""
    # A short path of its own: Ray's socket paths must fit in 107 bytes, pytest's tmp paths can be longer.
    root = Path(tempfile.mkdtemp(prefix="qa-ray-"))
    cluster = RayCluster(root)
    try:
        cluster.start(workers, head_cpus, worker_cpus)
        yield cluster
    finally:
        cluster.close()
        shutil.rmtree(root, ignore_errors=True)


def cluster_fixture() -> Iterator[RayCluster]:
    """The body of the ``ray_cluster`` session fixture: start the cluster once, close it at the end."""
    reason = cannot_run_here()
    if reason:
        pytest.skip(reason)
    with running_cluster() as cluster:
        yield cluster


class SlowHashingEmbedder:
    """The hashing embedder, slowed to ``seconds`` per call: a cluster build that lasts long enough to lose a node
    in the middle. Same fingerprint and vectors as ``HashingEmbedder(dim)``. Importable on the cluster's workers
    (they run with this repository on ``PYTHONPATH``)."""

    def __init__(self, dim: int = 64, seconds: float = 0.5):
        from qa.embed.embedders import HashingEmbedder

        self._inner = HashingEmbedder(dim)
        self.seconds = seconds

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def embed(self, texts, *, batch_size: int = 32):
        time.sleep(self.seconds)
        return self._inner.embed(texts, batch_size=batch_size)


def write_synthetic_corpus(folder: Path, files: int = 40, words: int = 900, seed: int = 11) -> Path:
    """``files`` text files of ``words`` words each, in sentences drawn from a small vocabulary: a few hundred
    chunks for the cluster tests, the same every time."""
    import random

    rng = random.Random(seed)
    vocabulary = ["river", "harbour", "grain", "market", "tariff", "winter", "ministry", "report", "railway",
                  "coal", "treaty", "border", "census", "election", "harvest", "drought", "vaccine", "clinic",
                  "budget", "bridge", "tunnel", "airport", "cable", "satellite"]
    folder.mkdir(parents=True)
    for i in range(files):
        sentences = [" ".join(rng.choice(vocabulary) for _ in range(rng.randint(6, 14))).capitalize() + "."
                     for _ in range(words // 10)]
        (folder / f"report-{i:03d}.txt").write_text(f"Report {i}\n\n" + " ".join(sentences) + "\n", encoding="utf-8")
    return folder

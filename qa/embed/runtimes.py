"""How the packaged model runs: the *variant* (backend and precision) and the device, chosen for the machine.

=================  ======================================================================================
``torch-fp32``     sentence-transformers on the CPU, the reference.
``torch-fp16``     sentence-transformers on a CUDA GPU in half precision.
``openvino-bf16``  OpenVINO on a CPU with bfloat16 instructions (AVX512_BF16 or AMX): about 2.2x the
                   reference's throughput on this project's 2-core EPYC (docs/benchmarks.md).
``openvino-fp32``  OpenVINO on any x86 CPU.
``openvino-int8``  OpenVINO, weights and activations in int8, calibrated on real text (``qa.embed.int8``):
                   its own fingerprint, since its vectors are close to the others' but not within rounding.
=================  ======================================================================================

``resolve("auto", "auto")`` picks CUDA when there is a GPU, else OpenVINO when it is installed (the variant
measured fastest on this CPU, ``qa.embed.choice``, when the caller gives a ``choose``), else torch.
The float variants produce the same vectors to within rounding (openvino-bf16: cosine >= 0.99996 with the reference
on every SciFact chunk, nDCG@10 within 0.002; the quality section of ``bench/speed.py``, guarded by a slow test);
torch-fp16 keeps more mantissa bits than bf16 and is expected to be as close, but no GPU was at hand to measure it.
So they share the model fingerprint and the embedding cache, and an index built with one is searched with another
without harm. int8 does not: its own fingerprint, cache key and no substitute. The manifest records the variant
that built an index, and queries use the same one where it can run.

OpenVINO reads an IR exported once per user from the installed weights (``export_openvino``) into the per-user
model cache (``qa.embed.model_cache``), keyed by the weights' fingerprint; never into site-packages or an index.
OpenVINO's own usage telemetry is kept off: its ``openvino_telemetry`` module is blocked before import, so nothing
leaves the machine.
"""

from __future__ import annotations

import importlib.util
import os
import queue
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from qa.errors import REBUILD_HINT, IndexCorruptError, ModelError, SettingsError

VARIANTS = ("torch-fp32", "torch-fp16", "openvino-bf16", "openvino-fp32", "openvino-int8")
DEVICES = ("auto", "cpu", "cuda")
EXPORT_VERSION = 1  # bump when the exported graph changes, so old exports are rebuilt
# Questions are embedded one at a time, each a few dozen tokens: a second thread barely helps, and when the other
# core is busy it hurts (SciFact claims, p50: 11.5 ms with one OpenVINO thread, 15.9 ms with two; torch fp32
# 14.7 ms with one thread, 40 ms with two, p95 509 ms). Batches for the index use every core.
QUERY_THREADS = 1
# ... but several questions at once (a server's clients) are embedded side by side: one OpenVINO stream of
# QUERY_THREADS per core, each question taking a free one, so every core embeds while the GIL is let go
# (bench/load.py --api json: see docs/benchmarks.md, "The JSON API under load").
QUERY_STREAMS = max(1, min(os.cpu_count() or 1, 4))


def cuda_available() -> bool:
    """A usable CUDA GPU. Checks for the driver first, so that a CPU machine never imports torch for this."""
    if not (Path("/proc/driver/nvidia/version").exists() or Path("/dev/nvidia0").exists()):
        return False
    import torch

    return torch.cuda.is_available()


def openvino_available() -> bool:
    return importlib.util.find_spec("openvino") is not None


def resolve(variant: str | None, device: str | None, choose: Callable[[], str] | None = None) -> tuple[str, str]:
    """``(variant, device)`` to run with; ``auto`` (or None) for either means the fastest this machine has.

    On a CPU with OpenVINO, ``choose`` (when given) names the fastest variant by measuring it; without it, the
    capability flags decide between bf16 and fp32.
    """
    variant, device = variant or "auto", device or "auto"
    if device not in DEVICES and not device.startswith("cuda:"):
        raise SettingsError(f"unknown device {device!r}: use auto, cpu or cuda")
    if variant not in ("auto", *VARIANTS):
        raise SettingsError(f"unknown embedding variant {variant!r}: use auto or one of {', '.join(VARIANTS)}")
    if device == "auto":
        device = "cuda" if variant == "torch-fp16" or (variant == "auto" and cuda_available()) else "cpu"
    if device.startswith("cuda"):
        if variant not in ("auto", "torch-fp16", "torch-fp32"):
            raise SettingsError(f"variant {variant} runs on the CPU only: use --device cpu, or leave the variant auto")
        return ("torch-fp16" if variant == "auto" else variant), device
    if variant == "torch-fp16":
        raise SettingsError("torch-fp16 needs a CUDA GPU: use --device cuda on a GPU machine, or variant auto")
    if variant == "auto":
        variant = (choose or _best_openvino)() if openvino_available() else "torch-fp32"
    elif variant.startswith("openvino") and not openvino_available():
        raise ModelError(f"variant {variant} needs the openvino package: run scripts/setup.sh, or use torch-fp32")
    return variant, device


def runnable_here(variant: str) -> str:
    """The variant to query an index built with ``variant``: the same where it can run, else this machine's best.

    The substitutes give the same vectors to within rounding (see the module docstring); int8 has no substitute.
    """
    if variant not in VARIANTS:
        raise IndexCorruptError(f"the index was embedded with variant {variant!r}, which this qa does not know: "
                                + REBUILD_HINT)
    if variant == "torch-fp16" and not cuda_available():
        return resolve("auto", "cpu")[0]
    if variant == "openvino-int8" and not openvino_available():
        raise ModelError("the index was embedded with variant openvino-int8, which needs the openvino package: "
                         "run scripts/setup.sh, or rebuild it with `qa index --full --variant torch-fp32`")
    if variant.startswith("openvino") and not openvino_available():
        return "torch-fp32"
    if variant == "openvino-bf16" and _best_openvino() != variant:
        return "openvino-fp32"
    return variant


def _best_openvino() -> str:
    capabilities = openvino_core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    return "openvino-bf16" if "BF16" in capabilities else "openvino-fp32"


def import_openvino():
    """The ``openvino`` module, imported with its telemetry off."""
    # subtle: `import openvino` sends a usage event to Google Analytics unless the user opted out; a None entry
    # makes `import openvino_telemetry` fail, and OpenVINO then uses its built-in no-op stub.
    sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]
    import openvino

    return openvino


_CORE = None


def openvino_core():
    """The one OpenVINO ``Core`` of this process (it holds the compiled-model cache and the CPU plugin)."""
    global _CORE
    if _CORE is None:
        _CORE = import_openvino().Core()
    return _CORE


def limit_threads(threads: int) -> None:
    """Run this process's model inference on at most ``threads`` threads, torch and OpenVINO alike. For a process
    that holds only part of a machine's cores (a Ray embedding actor holds one CPU): each would otherwise take
    every core, and a node's actors would oversubscribe them."""
    os.environ["OMP_NUM_THREADS"] = str(threads)  # torch, when it is imported later
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    if openvino_available():
        openvino_core().set_property("CPU", {"INFERENCE_NUM_THREADS": threads})


def export_openvino(model_dir: Path, folder: Path) -> None:
    """Convert the transformer in ``model_dir`` to OpenVINO IR, ``folder/model.xml`` and ``.bin`` (needs torch).

    ``qa.embed.model_cache.prepared`` calls it into a temporary folder and swaps the result in.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    ov = import_openvino()
    import torch
    import transformers
    from transformers import AutoModel

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()  # config notes meant for training, not for export

    class HiddenStates(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True)
    model.train(False)  # inference mode (dropout off); what `.eval()` does
    example = torch.ones((2, 16), dtype=torch.long)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shape-dependent branches; the graph is checked
        converted = ov.convert_model(HiddenStates(model), example_input={"input_ids": example,
                                                                          "attention_mask": example})
    ov.save_model(converted, str(folder / "model.xml"), compress_to_fp16=False)


class OpenVinoEncoder:
    """Mean-pooled, L2-normalised sentence vectors from an OpenVINO IR of the transformer.

    With ``threads`` (questions) ``QUERY_STREAMS`` streams of that many threads, and as many inference requests in
    a pool: each call takes one, so up to that many calls run at once from as many threads (``concurrent``), and
    one question still runs on ``threads`` threads, the fastest (see ``QUERY_THREADS``).

    Without (index batches), OpenVINO's THROUGHPUT hint: one stream per core or two, each batch shared out among
    them and run asynchronously, so the cores never wait on one another within a batch, and the next batch is
    padded while the streams run. On this project's 2-core EPYC, 2 streams of 1 thread embedded SciFact chunks
    at 7.5 and 7.9 texts/s against 6.0 and 5.7 for one stream of 2 threads (best of 2 alternating rounds, load
    average 8.5; bench/encoder_options.py). The texts of a call are tokenized together (about 1% of the time) and
    batched by token count (``length_batches``), so a batch pads to a length its texts nearly share.
    """

    def __init__(self, xml: Path, tokenizer_file: Path, max_tokens: int, precision: str, threads: int | None = None):
        from tokenizers import Tokenizer

        core = openvino_core()
        config: dict[str, object] = {"INFERENCE_PRECISION_HINT": precision,
                                     "PERFORMANCE_HINT": "LATENCY" if threads else "THROUGHPUT"}
        if threads:
            config.update(NUM_STREAMS=QUERY_STREAMS, INFERENCE_NUM_THREADS=threads * QUERY_STREAMS)
        self.compiled = core.compile_model(core.read_model(str(xml)), "CPU", config)
        self.concurrent = bool(threads)
        self.streams = 1 if threads else max(1, int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        self._requests: queue.SimpleQueue | None = None  # questions: the pool of inference requests
        if threads:
            self._requests = queue.SimpleQueue()
            for _ in range(QUERY_STREAMS):
                self._requests.put(self.compiled.create_infer_request())
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.no_padding()  # each batch is padded to its own longest text (padded_batch)

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        """``texts`` must not be empty. Calls may overlap when ``concurrent``; else one at a time (the embedder
        holds a lock)."""
        ov = import_openvino()
        encoded = [e.ids for e in self.tokenizer.encode_batch(texts)]
        step = max(1, -(-batch_size // self.streams))  # a batch of batch_size, shared out among the streams
        batches = length_batches([len(ids) for ids in encoded], step)
        parts: list[np.ndarray | None] = [None] * len(batches)

        def done(request, userdata: tuple[int, np.ndarray]) -> None:
            at, mask = userdata
            parts[at] = _mean_pool(np.asarray(request.get_output_tensor(0).data, dtype=np.float32), mask)

        # subtle: one stream runs synchronously; an AsyncInferQueue of one LATENCY request aborted the process at exit
        in_flight = ov.AsyncInferQueue(self.compiled, self.streams) if self.streams > 1 else None
        pooled = self._requests.get() if self._requests else None  # questions: wait for a free stream
        request = pooled or (None if in_flight else self.compiled.create_infer_request())
        if in_flight:
            in_flight.set_callback(done)
        try:
            for at, rows in enumerate(batches):
                ids, mask = padded_batch([encoded[i] for i in rows])
                inputs = {"input_ids": ids, "attention_mask": mask}
                if in_flight:
                    in_flight.start_async(inputs, (at, mask))  # waits for a free stream
                else:
                    request.infer(inputs)  # lets go of the GIL while it runs
                    done(request, (at, mask))
            if in_flight:
                in_flight.wait_all()
        finally:
            if pooled is not None:
                self._requests.put(pooled)
        if any(part is None for part in parts):
            raise RuntimeError("an OpenVINO inference request failed")
        out = np.empty((len(texts), self.compiled.outputs[0].get_partial_shape()[2].get_length()), dtype=np.float32)
        out[np.concatenate(batches)] = np.concatenate(parts)  # type: ignore[arg-type]
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


def length_batches(lengths: list[int], size: int) -> list[list[int]]:
    """Row numbers in batches of ``size``, by token count: every batch pads to its longest row, so the least padding.

    Sorting by characters instead (what the encoder did before, and what ``SentenceTransformer.encode`` does) left
    15% more tokens to run on the first 1,000 SciFact documents' chunks: 448,630 against 381,650 for 380,210 real
    ones (batches of 16). Ties keep their order, so a batch is the same whatever else is embedded with it.

    >>> length_batches([5, 1, 3, 1, 4], 2)
    [[1, 3], [2, 4], [0]]
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    return [order[start:start + size] for start in range(0, len(order), size)]


def padded_batch(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Token ids padded with 0 (the model's ``[PAD]``) to the longest row, and the attention mask.

    >>> ids, mask = padded_batch([[101, 7, 102], [101, 102]])
    >>> ids.tolist(), mask.tolist()
    ([[101, 7, 102], [101, 102, 0]], [[1, 1, 1], [1, 1, 0]])
    """
    ids = np.zeros((len(rows), max(map(len, rows))), dtype=np.int64)
    mask = np.zeros_like(ids)
    for r, row in enumerate(rows):
        ids[r, :len(row)] = row
        mask[r, :len(row)] = 1
    return ids, mask


def _mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    weights = mask[..., None].astype(np.float32)
    return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)

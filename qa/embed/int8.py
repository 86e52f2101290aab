"""The ``openvino-int8`` variant: the OpenVINO IR with int8 weights *and* activations, calibrated on real text.

Static post-training quantisation with NNCF (``nncf.quantize``, the OpenVINO toolkit's own quantiser, so no other
runtime is needed): ``model_type=TRANSFORMER`` keeps the attention's softmax and layer norms in fp32 and applies
SmoothQuant, ``preset=MIXED`` uses asymmetric activations (GELU outputs are not centred on 0). The activation ranges
come from running the model over calibration texts tokenized as the model reads them (279 of them; quantising
takes about a minute on 2 cores, once per user).

Where the calibration texts come from: ``calibration_texts.jsonl``, shipped in this package (298 texts from SQuAD
v1.1 dev, Wikipedia, CC BY-SA 4.0: 192 passages cut as ``qa index`` cuts them and 106 questions, written by
``scripts/make_calibration_texts.py``; every 16th is held out for ``qa.embed.choice``), not the corpus being
indexed. Because:
- the quantised model is then the same for every index and every user of this qa, so it is made once per user and
  kept in the model cache (``qa.embed.model_cache``) beside the fp32 export, and a question is embedded by exactly
  the model that embedded the passages, whatever index it searches;
- the result is deterministic for the same weights and qa version (same texts, same order, NNCF's statistics are
  deterministic), and a corpus of three short files calibrates as well as a large one;
- SciFact, on which its quality is measured, stays out of the calibration: the figures are not fitted to it.

Its vectors are not the fp32 ones to within rounding (cosine about 0.995, docs/benchmarks.md), so it has its own
fingerprint (``fingerprint``) and so its own embedding-cache key: an index built with it is searched with it.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

VERSION = 1  # bump when the quantisation recipe changes: new fingerprint, new cache entry
MEASURE_EVERY = 16


def _calibration_file():
    return resources.files("qa.embed") / "calibration_texts.jsonl"


@cache
def _shipped() -> tuple[str, ...]:
    return tuple(json.loads(line) for line in _calibration_file().read_text(encoding="utf-8").splitlines())


def calibration_texts() -> tuple[str, ...]:
    """The texts the int8 model is calibrated on: the shipped ones but those held out for ``measurement_texts``."""
    return tuple(t for i, t in enumerate(_shipped()) if i % MEASURE_EVERY)


def measurement_texts() -> tuple[str, ...]:
    """Every ``MEASURE_EVERY``-th shipped text (passages and questions): what ``qa.embed.choice`` times and
    gates each variant on, unseen by the calibration."""
    return _shipped()[::MEASURE_EVERY]


@cache
def recipe() -> str:
    """What besides the weights decides the int8 model: the recipe version and the calibration texts.

    Part of the variant's fingerprint and of its cache entry's source, so changing either makes a new model.
    """
    digest = hashlib.sha256(_calibration_file().read_bytes()).hexdigest()[:8]
    return f"int8v{VERSION}-{digest}"


def fingerprint(weights: str) -> str:
    """The int8 variant's model fingerprint: its vectors are not the fp32 ones to within rounding."""
    return f"{weights}-{recipe()}"


def nncf_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("nncf") is not None


def quantise(fp32_xml: Path, tokenizer_file: Path, max_tokens: int, folder: Path) -> None:
    """Write ``folder/model.xml`` and ``.bin``: the IR at ``fp32_xml`` quantised to int8 (about a minute on 2 cores).

    Each calibration text is one batch of one, at its own length: the ranges seen are those of real tokens, with
    no padding among them.
    """
    import nncf
    from tokenizers import Tokenizer

    from qa.embed.runtimes import import_openvino, openvino_core

    ov = import_openvino()
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.enable_truncation(max_tokens)

    def inputs(text: str) -> dict[str, np.ndarray]:
        encoded = tokenizer.encode(text)
        return {"input_ids": np.array([encoded.ids], dtype=np.int64),
                "attention_mask": np.array([encoded.attention_mask], dtype=np.int64)}

    texts = calibration_texts()
    quantised = nncf.quantize(openvino_core().read_model(str(fp32_xml)), nncf.Dataset(list(texts), inputs),
                              model_type=nncf.ModelType.TRANSFORMER, preset=nncf.QuantizationPreset.MIXED,
                              subset_size=len(texts))
    ov.save_model(quantised, str(folder / "model.xml"), compress_to_fp16=False)

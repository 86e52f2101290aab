"""What the benchmarks share: the machine they ran on, latency percentiles, judgements and nDCG, the SQuAD split.

Percentiles, nDCG and the judgements (qrels) reader are qa's own (``qa.evaluation``), so a benchmark computes a
figure exactly as ``qa eval`` does. subtle: qa is imported inside the functions, never when this module is
imported: ``bench/sections.py`` times the import of qa itself (``cold``), and nothing may have paid for it first.

The SQuAD split: a SQuAD v1.1 paragraph id is ``<article>_<paragraph>``. The questions of even-numbered articles
are the half ``bench/fit_answers.py`` fits the answer-selection weights on; those of odd-numbered articles the half
``bench/tune.py`` chooses the search defaults on. Each benchmark reports the halves apart, so that the figures of
the half a choice never saw can be read on their own.

Example::

    >>> squad_article("corpus.jsonl#17_3"), squad_half("17_3"), squad_half("4_0")
    (17, 'odd', 'even')
    >>> pct([1.0, 2.0, 3.0, 4.0, 100.0])
    {'p50_ms': 3.0, 'p95_ms': 80.8, 'n': 5}
"""

from __future__ import annotations

import contextlib
import io
import os
import platform
import subprocess
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

EVEN, ODD = "even", "odd"
FEATURES = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16")  # the instruction sets that matter here
PACKAGES = ("torch", "sentence-transformers", "openvino", "faiss-cpu", "bm25s", "numpy")


def machine() -> dict[str, object]:
    """Cores, CPU model and the instruction sets that matter here, from lscpu; memory; library versions."""
    info: dict[str, object] = {"cores": os.cpu_count(), "python": platform.python_version()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in lscpu.splitlines() if ":" in line)
        info["cpu"] = fields.get("Model name", "").strip()
        info["family_model"] = f"{fields.get('CPU family', '').strip()}/{fields.get('Model', '').strip()}"
        flags = fields.get("Flags", "").split()
        info["features"] = [f for f in FEATURES if f in flags]
    except (OSError, subprocess.CalledProcessError):
        info["cpu"] = platform.processor()
    with contextlib.suppress(ValueError, OSError):
        info["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    from importlib.metadata import PackageNotFoundError, version

    for package in PACKAGES:
        try:
            info[package] = version(package)
        except PackageNotFoundError:
            info[package] = None
    return info


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages: a busy machine shows in every latency."""
    return [round(x, 2) for x in os.getloadavg()]


def percentiles(values_ms: Sequence[float] | np.ndarray, places: int = 2) -> dict[str, float]:
    """``{"p50", "p95"}`` of latencies, as ``qa eval`` reports them (``qa.evaluation.metrics.percentiles``)."""
    from qa.evaluation.metrics import percentiles as qa_percentiles

    return qa_percentiles(values_ms, places=places)


def pct(ms: Sequence[float] | np.ndarray) -> dict[str, float]:
    """``{"p50_ms", "p95_ms", "n"}`` of latencies in milliseconds, to the microsecond: the speed sections' form."""
    figures = percentiles(ms, places=3)
    return {"p50_ms": figures["p50"], "p95_ms": figures["p95"], "n": len(ms)}


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """A judgements file (``query-id corpus-id score``, header optional) -> ``{query: {doc: score}}``, read by qa's
    own reader (``qa.evaluation.evaluate.read_qrels``)."""
    from qa.evaluation.evaluate import read_qrels as qa_read_qrels

    return qa_read_qrels(path)


def ndcg_at_10(run: dict[str, dict[str, float]], qrels: dict[str, dict[str, int]]) -> float:
    """Mean nDCG@10 over the judged queries, a judged query missing from ``run`` counting 0: trec_eval's, through
    ``qa.evaluation.metrics``."""
    from qa.evaluation.metrics import ranking_metrics

    return ranking_metrics(run, qrels).get("ndcg@10", 0.0)


def squad_article(paragraph_id: str) -> int:
    """The article number of a SQuAD paragraph id (``12_3``, or a document id ending in it: ``corpus.jsonl#12_3``)."""
    return int(paragraph_id.rsplit("#", 1)[-1].split("_")[0])


def squad_half(paragraph_id: str) -> str:
    """``"even"`` or ``"odd"``: the half of SQuAD a paragraph's questions belong to, by its article's number."""
    return EVEN if squad_article(paragraph_id) % 2 == 0 else ODD


def squad_half_queries(qrels: dict[str, dict[str, int]], half: str) -> set[str]:
    """The questions whose gold paragraph (each SQuAD question has one) lies in the ``half`` of the articles."""
    if half not in (EVEN, ODD):
        raise ValueError(f"half {half!r} is unknown: use {EVEN!r} or {ODD!r}")
    return {q for q, rels in qrels.items() if squad_half(next(iter(rels))) == half}


def make_scan(pages: Sequence[str], dpi: int = 150, noise: float = 0.01, skew_degrees: float = 0.4,
              seed: int = 0) -> bytes:
    """An image-only PDF, as a scanner makes one: each text typeset on a Letter page, skewed, speckled, at ``dpi``.

    Pillow draws the text (its bundled scalable font, 11 pt) and writes the PDF; no text layer is left in it.
    """


    from PIL import Image

    rng = np.random.default_rng(seed)
    images = [_speckle(_typeset(text, dpi).rotate(skew_degrees, resample=Image.Resampling.BICUBIC, fillcolor=255),
                       noise, rng) for text in pages]
    out = io.BytesIO()
    images[0].save(out, "PDF", resolution=dpi, save_all=True, append_images=images[1:])
    return out.getvalue()


def _typeset(text: str, dpi: int) -> object:
    """One Letter page, black text on white, wrapped at the margins (1 inch), lines 1.4 times the font size."""
    from PIL import Image, ImageDraw, ImageFont

    width, height, margin = int(8.5 * dpi), int(11 * dpi), dpi
    font = ImageFont.load_default(size=11 * dpi / 72)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    y = margin
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            if line and draw.textlength(f"{line} {word}", font=font) > width - 2 * margin:
                draw.text((margin, y), line, font=font, fill=0)
                y, line = y + int(1.4 * 11 * dpi / 72), word
            else:
                line = f"{line} {word}".strip()
        draw.text((margin, y), line, font=font, fill=0)
        y += int(1.4 * 11 * dpi / 72) * 2
    return image


def _speckle(image: object, noise: float, rng: np.random.Generator) -> object:
    """Flip a share ``noise`` of the pixels to random greys: dust and sensor noise."""
    from PIL import Image

    pixels = np.array(image)
    mask = rng.random(pixels.shape) < noise
    pixels[mask] = rng.integers(0, 256, int(mask.sum()), dtype=np.uint8)
    return Image.fromarray(pixels)


def char_accuracy(expected: str, recognised: str) -> float:
    """1 - (Levenshtein distance / characters expected), whitespace runs counted as one space: OCR's usual measure.

    >>> char_accuracy("The cat sat.", "The  cat sot.")
    0.9167
    """
    a, b = " ".join(expected.split()), " ".join(recognised.split())
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other)))
        previous = current
    return round(max(0.0, 1 - previous[-1] / max(len(a), 1)), 4)


# Hostile files (tests/test_formats.py and bench/hostile.py): each a real file made hostile in one way.
BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + b"".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
                             .encode() for i in range(1, 10))
                  + b"]>")


def with_part(data: bytes, name: str, change) -> bytes:
    """A copy of a ZIP file with the part ``name`` replaced by ``change(old bytes)``."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for part in source.infolist():
            content = source.read(part)
            target.writestr(part, change(content) if part.filename == name else content)
    return out.getvalue()


def billion_laughs(data: bytes, name: str) -> bytes:
    """The part ``name`` with the billion-laughs entities declared before its root element, and used in it."""
    def change(content: bytes) -> bytes:
        body = content.split(b"?>", 1)[1] if content.startswith(b"<?xml") else content
        return BILLION_LAUGHS + body.replace(b">", b">&lol9;", 1)
    return with_part(data, name, change)


def zip_bomb(data: bytes, megabytes: int) -> bytes:
    """A copy with one more part of ``megabytes`` MB of zeros (a few KB compressed), streamed to keep memory low."""
    out = io.BytesIO(data)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as target, target.open("bomb.xml", "w",
                                                                                 force_zip64=True) as part:
        block = b"\0" * 2**20
        for _ in range(megabytes):
            part.write(block)
    return out.getvalue()


def many_parts(data: bytes, count: int) -> bytes:
    """A copy with ``count`` more tiny worksheet parts: the shape of a 10,000-sheet workbook."""
    out = io.BytesIO(data)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as target:
        for number in range(count):
            target.writestr(f"xl/worksheets/extra{number}.xml", b"<worksheet/>")
    return out.getvalue()


OLE2_ENCRYPTED = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504 + b"EncryptedPackage" + b"\0" * 512

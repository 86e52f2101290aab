"""OCR speed and accuracy on scans made here: the seed corpus typeset, skewed, speckled and saved as an image-only PDF.

For each resolution the script makes one PDF of ``--pages`` pages (``bench.common.make_scan``), reads it with qa's
PDF reader (which recognises the pages with Tesseract, in parallel over the cores), and prints pages per second
and the character accuracy (1 - edit distance / characters) of each page against the text that was typeset.

    .venv/bin/python bench/ocr.py [--pages 4] [--dpi 150 300] [--noise 0.01] [--skew 0.4]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import char_accuracy, load_average, machine, make_scan  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PAGE_CHARS = 1800  # about two thirds of a Letter page at 11 pt


def page_texts(pages: int) -> list[str]:
    """``pages`` texts of about ``PAGE_CHARS`` characters, cut at spaces, from the seed corpus (front matter off)."""
    text = " ".join(re.sub(r"\A---\n.*?\n---\n", "", path.read_text(), flags=re.DOTALL)
                    for path in sorted((REPO / "corpus").glob("*.md")))
    words, texts, current = text.split(), [], ""
    for word in words:
        if len(current) + len(word) > PAGE_CHARS:
            texts.append(current)
            current = ""
            if len(texts) == pages:
                break
        current = f"{current} {word}".strip()
    while len(texts) < pages:  # a short seed corpus: repeat it
        texts.append(texts[len(texts) % max(len(texts), 1)] if texts else current)
    return texts


def measure(texts: list[str], dpi: int, noise: float, skew: float) -> dict[str, object]:
    from qa.ingest.readers import read_document

    pdf = make_scan(texts, dpi=dpi, noise=noise, skew_degrees=skew)
    started = time.perf_counter()
    result = read_document(Path("scan.pdf"), "scan.pdf", pdf)
    seconds = time.perf_counter() - started
    doc = result.documents[0]
    ends = [*doc.pages[1:], len(doc.text)]
    accuracy = [char_accuracy(expected, doc.text[start:end])
                for expected, start, end in zip(texts, doc.pages, ends, strict=True)]
    return {"dpi": dpi, "pages": len(texts), "seconds": round(seconds, 2),
            "pages_per_s": round(len(texts) / seconds, 3),
            "char_accuracy_mean": round(sum(accuracy) / len(accuracy), 4),
            "char_accuracy_min": min(accuracy), "note": doc.notes[0] if doc.notes else None,
            "problems": [p.reason for p in result.problems], "pdf_kb": len(pdf) // 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=4)
    parser.add_argument("--dpi", type=int, nargs="+", default=[150, 300])
    parser.add_argument("--noise", type=float, default=0.01, help="share of pixels speckled (default 0.01)")
    parser.add_argument("--skew", type=float, default=0.4, help="rotation in degrees (default 0.4)")
    args = parser.parse_args()
    texts = page_texts(args.pages)
    report = {"machine": machine(), "load_before": load_average(), "noise": args.noise, "skew_degrees": args.skew,
              "runs": [measure(texts, dpi, args.noise, args.skew) for dpi in args.dpi],
              "load_after": load_average()}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

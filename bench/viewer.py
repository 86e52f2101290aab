"""The document viewer's costs: word boxes at index time (seconds and bytes) and the time to open a page.

    .venv/bin/python bench/viewer.py                 # a 100-page PDF made here (fpdf2), about 2,600 characters a page
    .venv/bin/python bench/viewer.py --pages 20 --opens 10

Index time: reading the PDF as qa does (PDFium's text with every word's box) against reading the same text alone
(PDFium's characters, no boxes) and against pypdf's ``extract_text`` (how qa read PDFs before the viewer); then a
whole ``build_index`` with the hashing embedder (no model: the figure is the reading and writing, not embedding),
with the bytes of ``layouts.npz`` beside those of the whole generation. Opening: ``page_view`` (render one page,
900 px wide, with a passage and an answer boxed, as PNG) and ``document_view`` for random passages. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a file: the repository's bench and qa

from bench.common import load_average, machine, pct  # noqa: E402

WORDS = ("orchard", "apple", "pear", "harvest", "rain", "soil", "tree", "river", "valley", "report", "season",
         "market", "farmer", "ladder", "cider", "blossom", "frost", "spring", "autumn", "yield")


def make_pdf(pages: int, seed: int = 0) -> bytes:
    """``pages`` pages of paragraphs of sentences, written by fpdf2 (a real writer, text layer included)."""
    from fpdf import FPDF

    rng = random.Random(seed)
    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    for number in range(pages):
        pdf.add_page()
        for _ in range(6):
            sentences = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 16))).capitalize() + "."
                         for _ in range(5)]
            pdf.multi_cell(0, 5, f"Page {number + 1}. " + " ".join(sentences))
            pdf.ln(3)
    return bytes(pdf.output())


def best_of(runs: int, call) -> float:
    """The fastest of ``runs`` timings of ``call()``, in seconds (the least disturbed by other jobs)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return round(min(times), 4)


def text_only(data: bytes) -> int:
    """PDFium's characters of every page and nothing else: the reading the boxes come on top of."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    pdf = pdfium.PdfDocument(data)
    count = 0
    for page in pdf:
        textpage = page.get_textpage()
        count += len("".join(chr(raw.FPDFText_GetUnicode(textpage, i)) for i in range(textpage.count_chars())))
        textpage.close()
    pdf.close()
    return count


def pypdf_text(data: bytes) -> int:
    import io

    import pypdf

    return sum(len(page.extract_text()) for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def index_time(data: bytes, work: Path, runs: int) -> dict:
    from qa.embed.embedders import HashingEmbedder
    from qa.index import store
    from qa.index.build import build_index
    from qa.ingest.readers import read_document

    result = read_document(Path("report.pdf"), "report.pdf", data)
    words = len(result.layouts["report.pdf"])
    corpus = work / "corpus"
    corpus.mkdir()
    (corpus / "report.pdf").write_bytes(data)
    build_seconds = best_of(1, lambda: build_index(corpus, work / "index", HashingEmbedder(64), progress=False))
    files = store.load(work / "index").manifest.files
    return {
        "pdf_bytes": len(data), "characters": len(result.documents[0].text), "words_boxed": words,
        "read_with_boxes_s": best_of(runs, lambda: read_document(Path("report.pdf"), "report.pdf", data)),
        "pdfium_text_only_s": best_of(runs, lambda: text_only(data)),
        "pypdf_extract_text_s": best_of(runs, lambda: pypdf_text(data)),
        "build_index_hashing_s": build_seconds,
        "layouts_npz_bytes": files["layouts.npz"].bytes,
        "generation_bytes": sum(meta.bytes for meta in files.values()),
        "layouts_bytes_per_word": round(files["layouts.npz"].bytes / words, 2),
    }


def open_times(work: Path, opens: int) -> dict:
    from qa.index import store
    from qa.serve.viewer import Span, document_view, page_view

    data = store.load(work / "index")
    doc = data.documents[0]
    rng = random.Random(1)
    rows = rng.sample(range(len(data.chunks)), min(opens, len(data.chunks)))
    page_ms, document_ms, png_bytes = [], [], []
    for row in rows:
        chunk = data.chunk(row)
        spans = [Span(chunk.start, chunk.end), Span(chunk.start, min(chunk.end, chunk.start + 80), "answer")]
        started = time.perf_counter()
        view = page_view(data, doc.doc_id, chunk.page, spans)
        page_ms.append((time.perf_counter() - started) * 1000)
        png_bytes.append(len(view["image"]))
        started = time.perf_counter()
        document_view(data, doc.doc_id, spans)
        document_ms.append((time.perf_counter() - started) * 1000)
    return {"page_view": pct(page_ms), "document_view": pct(document_ms),
            "page_image_data_url_bytes_mean": round(sum(png_bytes) / len(png_bytes)), "page_width_px": view["width"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--opens", type=int, default=30, help="pages opened for the timing")
    parser.add_argument("--runs", type=int, default=3, help="timings of each read (the best is reported)")
    args = parser.parse_args()
    data = make_pdf(args.pages)
    with tempfile.TemporaryDirectory(prefix="qa-bench-viewer-") as folder:
        work = Path(folder)
        report = {"pages": args.pages, "load_before": load_average(), "index": index_time(data, work, args.runs),
                  "open": open_times(work, args.opens), "load_after": load_average(), "machine": machine()}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

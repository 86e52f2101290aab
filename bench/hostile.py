"""Hostile files against the readers: each is refused (or read) with its reason, and this prints the time and the
peak memory it cost, each read in a fresh process so that its peak is its own: ``peak_mb`` (the process, after
importing every reader), ``growth_mb`` (how far the read raised it) and ``child_peak_mb`` (Tesseract, for a scan).

    .venv/bin/python bench/hostile.py [--bomb-mb 2048]

The files: a zip bomb (an .xlsx with one more part of ``--bomb-mb`` MB of zeros, about 1/1000 of that compressed),
the billion laughs inside an .xlsx, a .pptx and a .docx, a real 10,000-sheet workbook, a password-protected
(OLE2) file, a truncated workbook, and a 200-inch scanned page (rendered within the OCR pixel bound).
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import OLE2_ENCRYPTED, billion_laughs, load_average, zip_bomb  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
READ_ONE = """import json, resource, sys, time
from pathlib import Path
from qa.ingest.readers import read_document
import qa.ingest.readers.pdf, qa.ingest.readers.spreadsheet, qa.ingest.readers.slides, qa.ingest.readers.word
import openpyxl, pptx, docx, pytesseract
path = Path(sys.argv[1])
data = path.read_bytes()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
try:
    result = read_document(path, path.name, data)
    outcome = f"read: {len(result.documents)} document(s), {len(result.problems)} problem(s)"
except Exception as exc:
    outcome = f"{type(exc).__name__}: {exc}"
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # Tesseract runs as a child process
print(json.dumps({"seconds": round(seconds, 2), "peak_mb": round(peak / 1024),
                  "growth_mb": round((peak - before) / 1024), "child_peak_mb": round(children / 1024),
                  "outcome": outcome}))
"""


def office_files() -> dict[str, bytes]:
    """A small valid workbook, deck and Word document, written by openpyxl, python-pptx and python-docx."""
    import docx
    import openpyxl
    import pptx

    files = {}
    book = openpyxl.Workbook()
    book.active.append(["Country", "Displaced"])
    book.active.append(["Syria", "6.8 million"])
    deck = pptx.Presentation()
    deck.slides.add_slide(deck.slide_layouts[1]).shapes.title.text = "Grid repairs"
    word = docx.Document()
    word.add_paragraph("Apple trees grow best in cool climates.")
    for suffix, document in ((".xlsx", book), (".pptx", deck), (".docx", word)):
        out = io.BytesIO()
        document.save(out)
        files[suffix] = out.getvalue()
    return files


def ten_thousand_sheets() -> bytes:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    for number in range(10_000):
        book.create_sheet(f"s{number}").append(["Country", number])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def huge_scan() -> bytes:
    """One 200 x 200 inch image-only page (a 2,000-pixel image at 10 dpi), which a renderer at 300 dpi would make
    3.6 billion pixels."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (2000, 2000), 255)
    ImageDraw.Draw(image).text((100, 100), "A very large page.", fill=0, font_size=60)
    out = io.BytesIO()
    image.save(out, "PDF", resolution=10)
    return out.getvalue()


def hostile_files(bomb_mb: int) -> dict[str, bytes]:
    office = office_files()
    return {
        "zip-bomb.xlsx": zip_bomb(office[".xlsx"], bomb_mb),
        "laughs.xlsx": billion_laughs(office[".xlsx"], "xl/workbook.xml"),
        "laughs.pptx": billion_laughs(office[".pptx"], "ppt/slides/slide1.xml"),
        "laughs.docx": billion_laughs(office[".docx"], "word/document.xml"),
        "10000-sheets.xlsx": ten_thousand_sheets(),
        "password.xlsx": OLE2_ENCRYPTED,
        "truncated.xlsx": office[".xlsx"][: len(office[".xlsx"]) // 2],
        "200-inch-scan.pdf": huge_scan(),
    }


def measure(name: str, data: bytes, folder: Path) -> dict[str, object]:
    path = folder / name
    path.write_bytes(data)
    out = subprocess.run([sys.executable, "-c", READ_ONE, str(path)], capture_output=True, text=True, cwd=REPO,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}, check=True)
    return {"file": name, "size_kb": len(data) // 1024, **json.loads(out.stdout.strip().splitlines()[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bomb-mb", type=int, default=2048, help="what the zip bomb unpacks to (default 2048)")
    args = parser.parse_args()
    load_before = load_average()
    with tempfile.TemporaryDirectory() as folder:
        rows = [measure(name, data, Path(folder)) for name, data in hostile_files(args.bomb_mb).items()]
    print(json.dumps({"load_before": load_before, "load_after": load_average(), "files": rows}, indent=2))


if __name__ == "__main__":
    main()

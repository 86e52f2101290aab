"""Files of the newer formats made with the real writers (openpyxl, python-pptx, ebooklib, the ``email`` package),
and hostile ones made from them: the fixtures of tests/test_formats.py and of the fuzz tests in tests/test_readers.py.
"""

from __future__ import annotations

import datetime as dt
import io
from email.message import EmailMessage
from pathlib import Path

CSV = b"Country,Displaced,Year\nSyria,6.8 million,2024\nSudan,11 million,2024\nUkraine,3.7 million,2024\n"


def make_xlsx() -> bytes:
    """Two sheets; a formula whose saved value is not shown (openpyxl saves none), a percentage, a date."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Displacement"
    sheet.append(["Country", "Displaced", "Share of population", "Counted on"])
    sheet.append(["Syria", "6.8 million", 0.31, dt.datetime(2024, 11, 30)])
    sheet.append(["Sudan", "11 million", 0.22, dt.datetime(2024, 10, 1)])
    sheet["C2"].number_format = sheet["C3"].number_format = "0%"
    sheet["E1"], sheet["E2"] = "Check", "=C2*2"
    rivers = book.create_sheet("Rivers")
    rivers.append(["River", "Mouth"])
    for number in range(30):
        rivers.append([f"River {number}", "the Black Sea" if number == 27 else "the North Sea"])
    book.properties.title = "Displacement figures"
    book.properties.creator = "Orchard Weekly"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def make_pptx() -> bytes:
    """A title-and-content slide with speaker notes, and a slide with a table."""
    import pptx
    from pptx.util import Inches

    deck = pptx.Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])
    first.shapes.title.text = "Grid repairs"
    first.placeholders[1].text = "Kharkiv's substation was hit on Tuesday.\nRepairs will take three weeks."
    first.notes_slide.notes_text_frame.text = "Mention the generators at the hospitals."
    second = deck.slides.add_slide(deck.slide_layouts[5])
    second.shapes.title.text = "Displaced people"
    table = second.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(1.5)).table
    for row, values in enumerate([("Country", "Displaced"), ("Syria", "6.8 million"), ("Sudan", "11 million")]):
        for column, value in enumerate(values):
            table.cell(row, column).text = value
    deck.core_properties.title = "Weekly briefing"
    deck.core_properties.author = "Orchard Weekly"
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def make_epub(tmp: Path) -> bytes:
    """Two chapters, in the table of contents, with Dublin Core metadata (ebooklib writes only to a path)."""
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("rivers-1")
    book.set_title("Rivers of Europe")
    book.add_author("Ana Bell")
    book.add_metadata("DC", "publisher", "Orchard Press")
    book.add_metadata("DC", "date", "2021-05-01")
    chapters = [epub.EpubHtml(title=title, file_name=f"c{i}.xhtml", content=f"<html><body><h1>{title}</h1>"
                              f"<p>{body}</p></body></html>")
                for i, (title, body) in enumerate([
                    ("The Danube", "The Danube flows into the Black Sea after passing ten countries."),
                    ("The Rhine", "The Rhine flows into the North Sea at Rotterdam.")], 1)]
    for chapter in chapters:
        book.add_item(chapter)
    book.toc, book.spine = chapters, chapters
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    path = tmp / "book.epub"
    epub.write_epub(str(path), book)
    return path.read_bytes()


def make_mail(subject: str = "Grid repairs", attachment: bytes | None = CSV) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = subject
    mail["From"] = "Olena Petrenko <olena@example.org>"
    mail["Date"] = "Tue, 03 Dec 2024 10:00:00 +0200"
    mail.set_content("The substation repairs will take three weeks.\n")
    mail.add_alternative("<html><body><p>The substation repairs will take three weeks.</p></body></html>",
                         subtype="html")
    if attachment is not None:
        mail.add_attachment(attachment, maintype="text", subtype="csv", filename="figures.csv")
    return mail


def make_eml() -> bytes:
    return make_mail().as_bytes()


def make_mbox() -> bytes:
    second = EmailMessage()
    second["Subject"], second["From"] = "Harvest", "farm@example.org"
    second.set_content("Apples are picked in autumn.\n")
    return b"".join(b"From sender@example.org Tue Dec  3 10:00:00 2024\n" + mail.as_bytes() + b"\n"
                    for mail in (make_mail(attachment=None), second))


# --- hostile files: built in bench/common.py, which bench/hostile.py measures with ----------------------------

from bench.common import OLE2_ENCRYPTED, billion_laughs, many_parts, with_part, zip_bomb  # noqa: E402

__all__ = ["CSV", "OLE2_ENCRYPTED", "billion_laughs", "make_eml", "make_epub", "make_mail", "make_mbox", "make_pptx",
           "make_xlsx", "many_parts", "with_part", "zip_bomb"]

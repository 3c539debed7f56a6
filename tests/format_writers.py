"""Writers of real test documents, each by the format's own library (python-pptx, openpyxl, odfpy,
fpdf2 / pypdf, msoffcrypto-tool, the email and mailbox packages, zipfile): used by tests/test_formats.py
and by packaging/make_format_samples.py for the self-test's sample folder."""

from __future__ import annotations

import io
import json
import mailbox
import re
import zipfile
from email.message import EmailMessage
from pathlib import Path

def make_pptx(path: Path) -> Path:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    deck.core_properties.title = "Zebra migration review"
    one = deck.slides.add_slide(deck.slide_layouts[1])
    one.shapes.title.text = "Where the zebras went"
    one.placeholders[1].text = "Herds crossed the savanna in spring"
    one.notes_slide.notes_text_frame.text = "Mention the giraffe budget"
    two = deck.slides.add_slide(deck.slide_layouts[5])
    two.shapes.title.text = "Counts"
    table = two.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1)).table
    table.cell(0, 0).text = "region"
    table.cell(1, 1).text = "okapi sightings"
    group = two.shapes.add_group_shape()
    box = group.shapes.add_textbox(Inches(1), Inches(4), Inches(3), Inches(1))
    box.text_frame.text = "grouped pangolin note"
    deck.save(path)
    return path


def make_xlsx(path: Path) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    book.properties.title = "Expedition budget"
    sheet = book.active
    sheet.title = "Budget"
    sheet.append(["item", "cost"])
    sheet.append(["pelican food", 12.5])
    staff = book.create_sheet("Staff")
    staff.append(["name", "role"])
    staff.append(["Ada Lovelace", "cartographer"])
    book.save(path)
    return path


def make_odt(path: Path) -> Path:
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P, S, Span

    doc = OpenDocumentText()
    doc.meta.addElement(_dc_title("Lighthouse duties"))
    doc.text.addElement(H(outlinelevel=1, text="Lighthouse duties"))
    para = P(text="Trim the wick")
    para.addElement(S(c=2))
    para.addElement(Span(text="and polish the lens"))
    doc.text.addElement(para)
    doc.save(str(path))
    return path


def make_ods(path: Path) -> Path:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    for name, rows in (("Tides", [["harbour", "high water"], ["Brest", "06:12"]]),
                       ("Crew", [["name"], ["Marguerite"]])):
        table = Table(name=name)
        for row in rows:
            tr = TableRow()
            for value in row:
                cell = TableCell(valuetype="string")
                cell.addElement(P(text=value))
                tr.addElement(cell)
            table.addElement(tr)
        doc.spreadsheet.addElement(table)
    doc.save(str(path))
    return path


def make_odp(path: Path) -> Path:
    from odf.draw import Frame, Page, TextBox
    from odf.opendocument import OpenDocumentPresentation
    from odf.style import MasterPage, PageLayout
    from odf.text import P

    doc = OpenDocumentPresentation()
    layout = PageLayout(name="Layout")
    doc.automaticstyles.addElement(layout)
    master = MasterPage(name="Default", pagelayoutname=layout)
    doc.masterstyles.addElement(master)
    for text in ("Opening slide about narwhals", "Closing slide about walruses"):
        page = Page(masterpagename=master)
        frame = Frame(width="20cm", height="3cm", x="1cm", y="1cm")
        box = TextBox()
        box.addElement(P(text=text))
        frame.addElement(box)
        page.addElement(frame)
        doc.presentation.addElement(page)
    doc.save(str(path))
    return path


def _dc_title(text: str):
    from odf.dc import Title

    return Title(text=text)


def make_rtf(path: Path) -> Path:
    # RTF is a text format; its writer here is this literal (Word's minimal document), with an
    # 8-bit escape (\'e9) and a Unicode escape (\u8364) as Word writes them
    path.write_bytes(rb"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0 Times New Roman;}}"
                     rb"\f0\fs24 Caf\'e9 menu: {\b croissant} and tea\par"
                     rb"Price 3\u8364? each\par}")
    return path


def make_epub(path: Path, *, encrypted_chapter: bool = False) -> Path:
    """An EPUB 3 as the specification lays it out: mimetype first and stored, container, package, chapters."""
    container = ('<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:'
                 'container"><rootfiles><rootfile full-path="OEBPS/book.opf" media-type="application/oebps-'
                 'package+xml"/></rootfiles></container>')
    opf = ('<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">'
           '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>The Cartographer</dc:title>'
           '<dc:identifier id="id">urn:uuid:1</dc:identifier></metadata><manifest>'
           '<item id="c2" href="text/two.xhtml" media-type="application/xhtml+xml"/>'
           '<item id="c1" href="text/one.xhtml" media-type="application/xhtml+xml"/></manifest>'
           '<spine><itemref idref="c1"/><itemref idref="c2"/></spine></package>')

    def chapter(title: str, body: str) -> str:
        return (f'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>{title}</title>'
                f'</head><body><h1>{title}</h1><p>{body}</p></body></html>')

    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        zf.writestr("META-INF/container.xml", container, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("OEBPS/book.opf", opf, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("OEBPS/text/one.xhtml", chapter("Departure", "The compass pointed to the fjord."))
        zf.writestr("OEBPS/text/two.xhtml", chapter("Arrival", "The map ended at the glacier."))
        if encrypted_chapter:
            zf.writestr("META-INF/encryption.xml",
                        '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
                        'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData><enc:CipherData>'
                        '<enc:CipherReference URI="OEBPS/text/one.xhtml"/></enc:CipherData></enc:EncryptedData>'
                        '</encryption>')
    return path


def make_message(subject: str, body: str, *, html: str | None = None, attachment: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Ada Lovelace <ada@example.org>"
    msg["To"] = "Charles Babbage <charles@example.org>"
    msg["Subject"] = subject
    msg["Date"] = "Tue, 01 Dec 2026 10:00:00 +0000"
    msg.set_content(body)
    if html:
        msg.add_alternative(html, subtype="html")
    if attachment:
        msg.add_attachment(b"%PDF-1.4 not really", maintype="application", subtype="pdf", filename=attachment)
        msg.add_attachment("The difference engine committee met on Tuesday.", filename="minutes.txt")
    return msg


def make_eml(path: Path) -> Path:
    msg = make_message("Analytical engine notes", "The engine weaves algebraic patterns.",
                       html="<p>The engine weaves <b>algebraic</b> patterns.</p>", attachment="diagram.pdf")
    path.write_bytes(bytes(msg))
    return path


def make_html_only_eml(path: Path) -> Path:
    msg = EmailMessage()
    msg["From"] = "news@example.org"
    msg["Subject"] = "Newsletter"
    msg.set_content("<html><body><p>Lighthouse <i>tour</i> dates</p></body></html>", subtype="html")
    path.write_bytes(bytes(msg))
    return path


def make_mbox(path: Path) -> Path:
    box = mailbox.mbox(str(path))
    box.add(make_message("First letter", "Bernoulli numbers are computed in note G."))
    box.add(make_message("Second letter", "From the engine we expect punched cards.\nFrom here on, tables."))
    box.flush()
    box.close()
    return path


def make_ipynb(path: Path) -> Path:
    notebook = {
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# Orbit fitting\n", "We fit Kepler orbits."]},
            {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": "import numpy as np\nnp.polyfit",
             "outputs": [{"output_type": "stream", "name": "stdout", "text": ["OUTPUT_NOT_INDEXED\n"]}]},
        ],
    }
    path.write_text(json.dumps(notebook), encoding="utf-8")
    return path


def make_pdf(path: Path, pages: list[str], *, title: str | None = None) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    if title:
        pdf.set_title(title)
    for text in pages:
        pdf.add_page()
        pdf.set_font("helvetica", size=12)
        pdf.multi_cell(w=0, text=text)
    pdf.output(str(path))
    return path


def make_scanned_pdf(path: Path, picture: Path | None = None) -> Path:
    """A page that is only a picture (as a scanner makes it): no text layer. Blank unless given one."""
    from fpdf import FPDF
    from PIL import Image

    buf = io.BytesIO()
    if picture is None:
        Image.new("RGB", (200, 100), "white").save(buf, format="PNG")
    else:
        buf.write(picture.read_bytes())
    pdf = FPDF()
    pdf.add_page()
    pdf.image(io.BytesIO(buf.getvalue()), x=10, y=10, w=150)
    pdf.output(str(path))
    return path


def encrypt_pdf(source: Path, path: Path, password: str) -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password=password, owner_password="owner", algorithm="AES-128")
    with open(path, "wb") as f:
        writer.write(f)
    return path


def encrypt_office(source: Path, path: Path, password: str = "secret") -> Path:
    """Password-protect an OOXML file as Office does (msoffcrypto-tool, ECMA-376 agile encryption)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    with open(source, "rb") as f, open(path, "wb") as out:
        OOXMLFile(f).encrypt(password, out)
    return path


def encrypt_opendocument(source: Path, path: Path) -> Path:
    """What LibreOffice's "save with password" leaves: content.xml scrambled, declared in the manifest."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "content.xml":
                data = bytes((b * 7 + 3) % 256 for b in data)
            elif info.filename == "META-INF/manifest.xml":
                data = re.sub(
                    rb'(<manifest:file-entry manifest:full-path="content.xml"[^>]*)/>',
                    rb'\1><manifest:encryption-data manifest:checksum-type="SHA1/1K" manifest:checksum="x">'
                    rb'<manifest:algorithm manifest:algorithm-name="Blowfish CFB" manifest:initialisation-vector="x"/>'
                    rb'</manifest:encryption-data></manifest:file-entry>', data)
                assert b"encryption-data" in data
            zout.writestr(info, data)
    return path


def truncate(source: Path, path: Path, keep: float = 0.5) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path




def make_zip(path: Path, members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def mark_zip_member_encrypted(path: Path, name: str) -> Path:
    """Set the 'encrypted' flag of one member, in its local header and the central directory, as an
    encrypting zip tool does (the stdlib cannot write encrypted zips; its reader then asks for a password)."""
    data = bytearray(path.read_bytes())
    encoded = name.encode()
    for signature, flag_at, name_len_at, name_at in ((b"PK\x03\x04", 6, 26, 30), (b"PK\x01\x02", 8, 28, 46)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            n = int.from_bytes(data[start + name_len_at : start + name_len_at + 2], "little")
            if bytes(data[start + name_at : start + name_at + n]) == encoded:
                data[start + flag_at] |= 0x1
            start += 4
    path.write_bytes(bytes(data))
    return path

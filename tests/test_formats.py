"""Every document kind read from a real file made by the format's own writer (python-pptx, openpyxl,
odfpy, fpdf2 / pypdf, the email and mailbox packages, zipfile), with a damaged and, where the format
has encryption, an encrypted variant; and the good files beside the bad ones are still found."""

from __future__ import annotations

import io
import json
import os
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import run
from format_writers import (
    encrypt_office,
    encrypt_opendocument,
    encrypt_pdf,
    make_eml,
    make_epub,
    make_html_only_eml,
    make_ipynb,
    make_mbox,
    make_odp,
    make_ods,
    make_odt,
    make_pdf,
    make_pptx,
    make_rtf,
    make_scanned_pdf,
    make_xlsx,
    make_zip,
    mark_zip_member_encrypted,
    truncate,
)

from desktop_search.documents import ExtractorPool, extract_text
from desktop_search.documents.base import ExtractionFailed, SkipFile, section_label


def reason_of(path: Path) -> tuple[str, str]:
    try:
        extract_text(path)
    except SkipFile as err:
        return "skipped", err.reason
    except ExtractionFailed as err:
        return "failed", err.reason
    return "ok", ""


# --------------------------------------------------------------------------- good files


def test_pptx_slides_notes_tables_groups_and_slide_numbers(tmp_path: Path) -> None:
    x = extract_text(make_pptx(tmp_path / "deck.pptx"))
    assert x.kind == "pptx" and x.title == "Zebra migration review"
    for words in ("Herds crossed the savanna", "giraffe budget", "okapi sightings", "grouped pangolin note"):
        assert words in x.text
    assert x.text.count("\f") == 2  # two slides
    assert section_label(x.kind, x.text, x.text.index("okapi")) == "slide 2"
    assert section_label(x.kind, x.text, x.text.index("giraffe")) == "slide 1"


def test_xlsx_sheet_names_cells_and_sheet_sections(tmp_path: Path) -> None:
    x = extract_text(make_xlsx(tmp_path / "book.xlsx"))
    assert x.kind == "xlsx" and x.title == "Expedition budget"
    assert "pelican food\t12.5" in x.text and "Ada Lovelace\tcartographer" in x.text
    assert section_label(x.kind, x.text, x.text.index("Ada")) == 'sheet "Staff"'
    assert section_label(x.kind, x.text, x.text.index("pelican")) == 'sheet "Budget"'


def test_xlsx_rows_are_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from openpyxl import Workbook

    from desktop_search.documents.formats import office

    book = Workbook()
    for i in range(30):
        book.active.append([f"row{i}"])
    book.save(tmp_path / "long.xlsx")
    monkeypatch.setattr(office, "MAX_SHEET_ROWS", 10)
    x = extract_text(tmp_path / "long.xlsx")
    assert "row9" in x.text and "row10" not in x.text and "further rows not read" in x.text


def test_opendocument_text_spreadsheet_and_presentation(tmp_path: Path) -> None:
    odt = extract_text(make_odt(tmp_path / "a.odt"))
    assert odt.kind == "odt" and odt.title == "Lighthouse duties"
    assert "Trim the wick  and polish the lens" in odt.text  # text:s c=2 is two spaces
    ods = extract_text(make_ods(tmp_path / "a.ods"))
    assert "Brest\t06:12" in ods.text
    assert section_label(ods.kind, ods.text, ods.text.index("Marguerite")) == 'sheet "Crew"'
    odp = extract_text(make_odp(tmp_path / "a.odp"))
    assert section_label(odp.kind, odp.text, odp.text.index("walruses")) == "slide 2"
    assert section_label(odp.kind, odp.text, odp.text.index("narwhals")) == "slide 1"


def test_rtf_text_with_escapes(tmp_path: Path) -> None:
    x = extract_text(make_rtf(tmp_path / "menu.rtf"))
    assert x.kind == "rtf"
    assert "Café menu: croissant and tea" in x.text and "3€" in x.text
    assert "\\par" not in x.text and "fonttbl" not in x.text and "Times New Roman" not in x.text


def test_epub_chapters_in_spine_order(tmp_path: Path) -> None:
    x = extract_text(make_epub(tmp_path / "book.epub"))
    assert x.kind == "epub" and x.title == "The Cartographer"
    assert x.text.index("compass") < x.text.index("glacier")  # spine order, not manifest order
    assert section_label(x.kind, x.text, x.text.index("glacier")) == "chapter 2"


def test_eml_headers_body_and_attachment_names(tmp_path: Path) -> None:
    x = extract_text(make_eml(tmp_path / "note.eml"))
    assert x.kind == "email" and x.title == "Analytical engine notes"
    assert "From: Ada Lovelace <ada@example.org>" in x.text
    assert "To: Charles Babbage <charles@example.org>" in x.text
    assert "Date: Tue, 01 Dec 2026 10:00:00 +0000" in x.text
    assert "The engine weaves algebraic patterns." in x.text
    assert x.text.count("algebraic") == 1  # the plain part only, not the HTML alternative too
    assert "Attachments: diagram.pdf, minutes.txt" in x.text
    by_name = {m.name: m for m in x.members}  # the attachments, read like files of their own
    assert by_name["minutes.txt"].extracted.text.strip() == "The difference engine committee met on Tuesday."
    assert by_name["diagram.pdf"].status == "failed" and by_name["diagram.pdf"].reason.startswith("corrupt PDF")
    html_only = extract_text(make_html_only_eml(tmp_path / "news.eml"))
    assert "Lighthouse tour dates" in html_only.text and "<i>" not in html_only.text


def test_mbox_messages_are_sections(tmp_path: Path) -> None:
    x = extract_text(make_mbox(tmp_path / "letters.mbox"))
    assert x.kind == "mbox"
    assert "Subject: First letter" in x.text and "Subject: Second letter" in x.text
    assert "From the engine we expect punched cards." in x.text  # '>From ' quoting undone
    assert section_label(x.kind, x.text, x.text.index("punched")) == "message 2"


def test_ipynb_markdown_and_code_cells_without_outputs(tmp_path: Path) -> None:
    x = extract_text(make_ipynb(tmp_path / "orbits.ipynb"))
    assert x.kind == "notebook" and x.title == "Orbit fitting"
    assert "We fit Kepler orbits." in x.text and "np.polyfit" in x.text
    assert "OUTPUT_NOT_INDEXED" not in x.text


def test_org_tex_and_xml_are_read_as_text(tmp_path: Path) -> None:
    (tmp_path / "plan.org").write_text("#+TITLE: Garden plan\n* Beds\n- sow radishes\n", encoding="utf-8")
    (tmp_path / "paper.tex").write_text("\\section{Results}\nThe heron nests early.\n", encoding="utf-8")
    (tmp_path / "feed.xml").write_text("<feed><entry>Otter sighting</entry></feed>", encoding="utf-8")
    org = extract_text(tmp_path / "plan.org")
    assert org.title == "Garden plan" and "sow radishes" in org.text
    assert "heron nests" in extract_text(tmp_path / "paper.tex").text
    assert "Otter sighting" in extract_text(tmp_path / "feed.xml").text


def test_pdf_pages_are_sections_and_title_is_kept(tmp_path: Path) -> None:
    x = extract_text(make_pdf(tmp_path / "p.pdf", ["Alpha page about owls", "Beta page about bats",
                                                    "Gamma page about moths"], title="Night animals"))
    assert x.kind == "pdf" and x.title == "Night animals"
    assert x.text.count("\f") == 3
    assert section_label("pdf", x.text, x.text.index("bats")) == "page 2"
    assert section_label("pdf", x.text, x.text.index("moths")) == "page 3"
    # a passage that starts right at a page break is on the next page
    assert section_label("pdf", x.text, x.text.index("\f")) == "page 2"


def test_pdf_falls_back_to_pypdf_when_pdfium_rejects_the_file(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from desktop_search.documents.formats import pdf

    def reject(data: bytes, max_chars: int):
        raise pdf._PdfiumCannotOpen("forced for the test")

    monkeypatch.setattr(pdf, "pdfium_pages", reject)
    x = extract_text(make_pdf(tmp_path / "p.pdf", ["Only page about voles"]))
    assert "voles" in x.text and x.text.endswith("\f")


def test_pdf_pages_past_max_chars_are_not_read(tmp_path: Path) -> None:
    f = make_pdf(tmp_path / "long.pdf", [f"page {i} " + "word " * 50 for i in range(6)])
    x = extract_text(f, max_chars=600)
    assert x.truncated and len(x.text) <= 600 and "page 5" not in x.text


# --------------------------------------------------------------------------- bad files


@pytest.mark.parametrize("name, make", [
    ("deck.pptx", make_pptx), ("book.xlsx", make_xlsx), ("a.odt", make_odt), ("a.ods", make_ods),
    ("a.odp", make_odp), ("book.epub", make_epub), ("p.pdf", lambda p: make_pdf(p, ["some text"] * 3)),
])
def test_truncated_files_fail_with_a_reason(tmp_path: Path, name: str, make) -> None:
    good = make(tmp_path / f"good-{name}")
    status, reason = reason_of(truncate(good, tmp_path / name))
    assert status == "failed", reason
    assert reason.startswith(("not a valid", "corrupt PDF")), reason


@pytest.mark.parametrize("name, content, expected", [
    ("menu.rtf", b"this is not rich text at all", "not a valid RTF file"),
    ("note.eml", bytes(range(256)) * 4, "not an e-mail message"),
    ("letters.mbox", b"Subject: no envelope line\n\nbody\n", "not a valid mailbox"),
    ("orbits.ipynb", b'{"cells": [{"cell_type": "markdown", "source": "# cut', "not a valid notebook"),
    ("deck.pptx", b"PK\x03\x04 garbage that is no zip", "not a valid PowerPoint file"),
    ("book.xlsx", b"plain text named like a workbook", "not a valid Excel file"),
    ("a.odt", b"plain text named like a document", "not a valid OpenDocument text"),
    ("book.epub", b"plain text named like a book", "not a valid EPUB e-book"),
])
def test_damaged_files_fail_with_a_reason(tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    (tmp_path / name).write_bytes(content)
    status, reason = reason_of(tmp_path / name)
    assert status == "failed" and reason.startswith(expected), reason


def test_encrypted_office_files_say_so(tmp_path: Path) -> None:
    pptx = encrypt_office(make_pptx(tmp_path / "plain.pptx"), tmp_path / "locked.pptx")
    xlsx = encrypt_office(make_xlsx(tmp_path / "plain.xlsx"), tmp_path / "locked.xlsx")
    assert reason_of(pptx) == ("failed", "encrypted PowerPoint file (password-protected), "
                                         "or an old binary Office file renamed")
    assert reason_of(xlsx)[1].startswith("encrypted Excel file")


def test_encrypted_opendocument_and_epub_and_pdf_say_so(tmp_path: Path) -> None:
    odt = encrypt_opendocument(make_odt(tmp_path / "plain.odt"), tmp_path / "locked.odt")
    assert reason_of(odt) == ("failed", "encrypted OpenDocument text (password-protected)")
    epub = make_epub(tmp_path / "drm.epub", encrypted_chapter=True)
    assert reason_of(epub) == ("failed", "encrypted EPUB e-book (DRM-protected)")
    pdf = encrypt_pdf(make_pdf(tmp_path / "plain.pdf", ["secret walrus"]), tmp_path / "locked.pdf", "pw")
    assert reason_of(pdf) == ("failed", "encrypted PDF (needs a password)")
    owner_only = encrypt_pdf(make_pdf(tmp_path / "plain2.pdf", ["open walrus"]), tmp_path / "owner.pdf", "")
    assert "open walrus" in extract_text(owner_only).text


def test_scanned_pdf_without_text_layer_is_skipped(tmp_path: Path) -> None:
    status, reason = reason_of(make_scanned_pdf(tmp_path / "scan.pdf"))  # a blank picture: OCR finds nothing
    assert status == "skipped" and reason.startswith("PDF has no text layer"), reason
    with pytest.raises(SkipFile, match="OCR is turned off"):
        extract_text(tmp_path / "scan.pdf", ocr=False)


def test_zip_bomb_member_of_an_opendocument_is_not_inflated(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "bomb.odt", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        zf.writestr("content.xml", b"<a>" + b" " * 30_000_000 + b"</a>")
    status, reason = reason_of(tmp_path / "bomb.odt")
    assert status == "skipped" and "compression ratio" in reason, reason


def test_xml_entity_expansion_is_refused(tmp_path: Path) -> None:
    bomb = ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
            '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0">'
            '<office:body>&b;</office:body></office:document-content>')
    with zipfile.ZipFile(tmp_path / "entities.odt", "w") as zf:
        zf.writestr("content.xml", bomb)
    status, reason = reason_of(tmp_path / "entities.odt")
    assert status == "skipped" and "unsafe XML refused" in reason, reason


# --------------------------------------------------------------------------- in the child and in the index


def test_new_kinds_come_back_from_the_extraction_child(tmp_path: Path) -> None:
    files = [make_pptx(tmp_path / "deck.pptx"), make_xlsx(tmp_path / "book.xlsx"), make_epub(tmp_path / "b.epub")]
    with ExtractorPool(timeout_s=60) as pool:
        outcomes = [pool.extract(str(f)) for f in files]
    assert [o.status for o in outcomes] == ["ok", "ok", "ok"], [o.reason for o in outcomes]
    assert "okapi" in outcomes[0].extracted.text and "pelican" in outcomes[1].extracted.text


def test_good_files_beside_bad_ones_are_indexed_and_found_with_their_page(service, tmp_path: Path) -> None:
    docs = tmp_path / "work"
    docs.mkdir()
    good = {
        "deck.pptx": (make_pptx, "okapi", "slide 2"),
        "book.xlsx": (make_xlsx, "cartographer", 'sheet "Staff"'),
        "a.odt": (make_odt, "wick", None),
        "a.ods": (make_ods, "Marguerite", 'sheet "Crew"'),
        "a.odp": (make_odp, "walruses", "slide 2"),
        "menu.rtf": (make_rtf, "croissant", None),
        "book.epub": (make_epub, "glacier", "chapter 2"),
        "note.eml": (make_eml, "algebraic", None),
        "letters.mbox": (make_mbox, "punched", "message 2"),
        "orbits.ipynb": (make_ipynb, "Kepler", None),
        "paper.pdf": (lambda p: make_pdf(p, ["Alpha page about owls", "Beta page about bats"]), "bats", "page 2"),
    }
    for name, (make, _word, _where) in good.items():
        make(docs / name)
    truncate(make_pptx(tmp_path / "x.pptx"), docs / "broken.pptx")
    encrypt_office(make_xlsx(tmp_path / "x.xlsx"), docs / "locked.xlsx")
    encrypt_pdf(make_pdf(tmp_path / "x.pdf", ["hidden"]), docs / "locked.pdf", "pw")
    make_scanned_pdf(docs / "scan.pdf")
    (docs / "bad.epub").write_bytes(b"not a book")
    run(service.index([docs]))
    status = {Path(f.path).name: f for f in service.files()}
    for name in good:
        assert status[name].status == "indexed", (name, status[name])
    assert status["broken.pptx"].status == "failed"
    assert status["locked.xlsx"].reason.startswith("encrypted Excel file")
    assert status["locked.pdf"].reason == "encrypted PDF (needs a password)"
    assert status["scan.pdf"].status == "skipped"
    assert status["bad.epub"].status == "failed"
    for name, (_make, word, where) in good.items():
        hits = service.search(word, "bm25", k=3)
        assert hits and hits[0].name == name, (word, [h.name for h in hits])
        assert hits[0].section == (where or ""), (name, hits[0].section)
        if where:
            assert hits[0].snippet.startswith(f"{where} · "), hits[0].snippet
            lo, hi = hits[0].spans[0]
            assert hits[0].snippet[lo:hi].lower() == word.lower()  # spans still point at the word
    preview = service.preview(hits[0].doc_id, hits[0].chunk_id, "bats")
    assert "\f" not in preview["text"]


def test_files_skipped_as_unsupported_by_an_older_version_are_read_again(service, tmp_path: Path) -> None:
    docs = tmp_path / "old"
    docs.mkdir()
    make_pptx(docs / "deck.pptx")
    run(service.index([docs]))
    # what an older version left: the deck skipped as unsupported, and no version recorded for pptx
    (folder,) = service.store.folders()
    key = f"extraction_versions:{folder['id']}"
    versions = json.loads(service.store.get_meta(key))
    del versions["pptx"]
    service.store.set_meta(key, json.dumps(versions))
    with service.store.write() as w:
        w.execute("DELETE FROM chunks")
        w.execute("UPDATE documents SET status='skipped', reason='unsupported file type (.pptx)', kind=NULL")
    run(service.index())
    (doc,) = service.files()
    assert doc.status == "indexed" and doc.kind == "pptx"
    assert service.search("okapi", "bm25")[0].section == "slide 2"


# --------------------------------------------------------------------------- archives


def _pdf_bytes(tmp_path: Path, pages: list[str]) -> bytes:
    return make_pdf(tmp_path / "member-src.pdf", pages).read_bytes()


def _nested_zip(tmp_path: Path) -> Path:
    deepest = make_zip(tmp_path / "level3.zip", {"deepest.txt": b"the abyssal anglerfish"})
    inner = make_zip(tmp_path / "inner.zip", {"deep.txt": b"a nested heron note",
                                             "level3.zip": deepest.read_bytes()})
    return make_zip(tmp_path / "bundle.zip", {
        "reports/owls.pdf": _pdf_bytes(tmp_path, ["Owls at dusk", "Bats and moths at night"]),
        "notes/plain.txt": b"kestrel hovering over the verge",
        "sound.wav": b"RIFF not text",
        "inner.zip": inner.read_bytes(),
    })


def test_zip_members_are_read_each_with_its_kind_and_nested_once(tmp_path: Path) -> None:
    x = extract_text(_nested_zip(tmp_path))
    assert x.kind == "zip"
    by_name = {m.name: m for m in x.members}
    assert by_name["notes/plain.txt"].extracted.text == "kestrel hovering over the verge"
    pdf = by_name["reports/owls.pdf"].extracted
    assert pdf.kind == "pdf" and section_label("pdf", pdf.text, pdf.text.index("moths")) == "page 2"
    assert by_name["sound.wav"].status == "skipped" and "unsupported" in by_name["sound.wav"].reason
    assert by_name["inner.zip › deep.txt"].extracted.text == "a nested heron note"
    deepest = by_name["inner.zip › level3.zip"]
    assert deepest.status == "skipped" and "not opened" in deepest.reason  # depth 2: listed, not opened
    assert "reports/owls.pdf" in x.text and "inner.zip › deep.txt" in x.text  # the listing


def test_tar_gz_bz2_xz_members(tmp_path: Path) -> None:
    for mode, suffix in (("w:gz", ".tar.gz"), ("w:bz2", ".tar.bz2"), ("w:xz", ".tar.xz"), ("w", ".tar")):
        path = tmp_path / f"notes{suffix}"
        with tarfile.open(path, mode) as tf:
            for name, data in (("a/first.md", b"# Puffins\nThey nest in burrows."), ("b.txt", b"gannets dive")):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
        x = extract_text(path)
        assert x.kind == "tar", suffix
        assert {m.name: m.extracted.title for m in x.members} == {"a/first.md": "Puffins", "b.txt": None}


def test_zip_bomb_member_is_skipped_without_inflating_it(tmp_path: Path) -> None:
    bomb = make_zip(tmp_path / "bomb.zip", {"zeros.txt": b"0" * 40_000_000, "ok.txt": b"a real note"})
    x = extract_text(bomb)
    by_name = {m.name: m for m in x.members}
    assert by_name["zeros.txt"].status == "skipped" and "compression ratio" in by_name["zeros.txt"].reason
    assert by_name["ok.txt"].extracted.text == "a real note"


def test_archive_unpacking_past_the_total_limit_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from desktop_search.documents.formats import archives

    monkeypatch.setattr(archives, "MAX_TOTAL_BYTES", 1000)
    big = make_zip(tmp_path / "big.zip", {f"f{i}.txt": b"x" * 400 for i in range(4)})
    status, reason = reason_of(big)
    assert status == "skipped" and "a zip bomb?" in reason, reason


def test_archive_member_count_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from desktop_search.documents.formats import archives

    monkeypatch.setattr(archives, "MAX_MEMBERS", 3)
    many = make_zip(tmp_path / "many.zip", {f"f{i}.txt": f"note {i}".encode() for i in range(10)})
    x = extract_text(many)
    assert len(x.members) == 3 and "further 7 files not read" in x.text


def test_encrypted_zip_member_fails_and_the_others_are_read(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "locked.zip", {"secret.txt": b"hidden words", "open.txt": b"visible words"},
                    compression=zipfile.ZIP_STORED)
    mark_zip_member_encrypted(path, "secret.txt")
    by_name = {m.name: m for m in extract_text(path).members}
    assert (by_name["secret.txt"].status, by_name["secret.txt"].reason) == ("failed", "encrypted (needs a password)")
    assert by_name["open.txt"].extracted.text == "visible words"


def test_damaged_archives_fail_with_a_reason(tmp_path: Path) -> None:
    good = _nested_zip(tmp_path)
    status, reason = reason_of(truncate(good, tmp_path / "cut.zip", keep=0.6))
    assert status == "failed" and reason.startswith("not a valid zip archive"), reason
    (tmp_path / "junk.tar.gz").write_bytes(b"\x1f\x8b garbage")
    status, reason = reason_of(tmp_path / "junk.tar.gz")
    assert status == "failed" and reason.startswith("not a valid tar archive"), reason


def test_archive_members_are_documents_shown_through_the_archive(service, tmp_path: Path) -> None:
    docs = tmp_path / "arch"
    docs.mkdir()
    archive = _nested_zip(tmp_path)
    (docs / "bundle.zip").write_bytes(archive.read_bytes())
    (docs / "beside.txt").write_text("a plain file beside the archive: wren", encoding="utf-8")
    run(service.index([docs]))
    zip_path = str(docs / "bundle.zip")
    paths = {f.path: f for f in service.files()}
    assert paths[zip_path].status == "indexed"
    member = paths[zip_path + " › reports/owls.pdf"]
    assert member.status == "indexed" and member.name == "owls.pdf" and member.kind == "pdf"
    assert paths[zip_path + " › inner.zip › deep.txt"].status == "indexed"
    assert paths[zip_path + " › sound.wav"].status == "skipped"
    (hit,) = service.search("moths", "bm25", k=1)
    assert hit.path == zip_path + " › reports/owls.pdf" and hit.section == "page 2"
    assert service.search("heron", "bm25", k=1)[0].name == "deep.txt"
    assert service.search("wren", "bm25", k=1)[0].name == "beside.txt"

    run(service.index())  # unchanged: the members stay
    assert set(paths) == {f.path for f in service.files()}

    (docs / "bundle.zip").write_bytes(make_zip(tmp_path / "v2.zip", {"new.txt": b"an osprey"}).read_bytes())
    run(service.index())  # changed: the members are replaced
    now = {f.path for f in service.files()}
    assert zip_path + " › new.txt" in now and zip_path + " › reports/owls.pdf" not in now
    assert not service.search("moths", "bm25") and service.search("osprey", "bm25")[0].name == "new.txt"

    make_eml(docs / "note.eml")  # an e-mail's attachments are members too
    run(service.index())
    (hit,) = service.search("committee", "bm25", k=1)
    assert hit.path == str(docs / "note.eml") + " › minutes.txt"

    (docs / "bundle.zip").unlink()
    (docs / "note.eml").unlink()
    run(service.index())  # gone: the members go with it
    assert {f.path for f in service.files()} == {str(docs / "beside.txt")}


def test_open_and_show_in_folder_use_the_archive_of_a_member(tmp_path: Path) -> None:
    from desktop_search.documents import on_disk_path

    archive = make_zip(tmp_path / "a › b.zip", {"x.txt": b"x"})  # the separator in a real name, too
    assert on_disk_path(f"{archive} › folder/x.txt") == str(archive)
    assert on_disk_path(str(archive)) == str(archive)
    assert on_disk_path(str(tmp_path / "gone.zip › x.txt")) == str(tmp_path / "gone.zip › x.txt")


# --------------------------------------------------------------------------- OCR (the `ocr` extra)


def _text_picture(tmp_path: Path, words: str) -> Path:
    """A rendered page of known text, as a PNG: the PDF writer's page, rasterised by PDFium."""
    import pypdfium2 as pdfium
    from fpdf import FPDF

    pdf = FPDF(format=(160, 40))
    pdf.add_page()
    pdf.set_font("helvetica", size=24)
    pdf.cell(text=words)
    pdf.output(str(tmp_path / "src.pdf"))
    doc = pdfium.PdfDocument(str(tmp_path / "src.pdf"))
    doc[0].render(scale=150 / 72).to_pil().convert("RGB").save(tmp_path / "page.png")
    doc.close()
    return tmp_path / "page.png"


def test_ocr_reads_pictures_and_scanned_pdf_pages(tmp_path: Path) -> None:
    pytest.importorskip("rapidocr_onnxruntime")
    png = _text_picture(tmp_path, "Puffins nest in burrows")
    x = extract_text(png)
    assert x.kind == "image" and "puffins nest in burrows" in x.text.lower(), x.text
    assert x.ocr_pages == 1 and x.ocr_s > 0
    scanned = make_scanned_pdf(tmp_path / "scan.pdf", picture=png)  # a text-less page: the picture only
    y = extract_text(scanned)
    assert "burrows" in y.text.lower() and y.text.endswith("\f") and y.ocr_pages == 1


def test_ocr_can_be_turned_off_and_bad_pictures_fail(tmp_path: Path) -> None:
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    with pytest.raises(SkipFile, match="OCR is turned off"):
        extract_text(tmp_path / "photo.jpg", ocr=False)
    status, reason = reason_of(tmp_path / "photo.jpg")
    if status == "skipped":  # without the OCR package
        assert "OCR is not installed" in reason
    else:
        assert (status, reason.startswith("not a valid image")) == ("failed", True), reason


def test_ocr_cost_is_reported_by_the_index_run_and_the_setting_turns_it_off(service, tmp_path: Path) -> None:
    pytest.importorskip("rapidocr_onnxruntime")
    docs = tmp_path / "pictures"
    docs.mkdir()
    _text_picture(docs, "Gannets dive for fish")  # docs/page.png
    last = run(service.index([docs]))
    assert last.stats["ocr_pages"] == 1 and last.stats["ocr_s"] > 0
    assert service.search("gannets", "bm25")[0].name == "page.png"
    service.settings.ocr = False
    os.utime(docs / "page.png", ns=(1, 1))  # changed: read again, now without OCR
    run(service.index())
    doc = next(f for f in service.files() if f.name == "page.png")
    assert (doc.status, doc.reason) == ("skipped", "image: OCR is turned off (setting 'ocr')")


def test_members_past_the_archive_time_budget_are_listed_not_read(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from desktop_search.documents.formats import archives

    monkeypatch.setattr(archives, "TIME_BUDGET_S", -1.0)  # already over: nothing is read
    x = extract_text(make_zip(tmp_path / "slow.zip", {"a.txt": b"alpha", "b.txt": b"beta"}))
    assert [(m.status, m.reason) for m in x.members] == [("skipped", "not read: the archive took more than -1 s")] * 2


def test_blank_pages_of_a_text_pdf_are_not_sent_to_ocr(tmp_path: Path) -> None:
    pytest.importorskip("rapidocr_onnxruntime")
    x = extract_text(make_pdf(tmp_path / "gap.pdf", ["First page about larks", "", "Third page about rooks"]))
    assert x.ocr_pages == 0 and x.text.count("\f") == 3
    assert section_label("pdf", x.text, x.text.index("rooks")) == "page 3"

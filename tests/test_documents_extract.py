"""Tests for desktop_search.documents.extract: every file type, encoding and failure class."""

from __future__ import annotations

import os
import time
import zipfile
from pathlib import Path

import pytest

from desktop_search.documents.extract import (
    SUPPORTED_EXTENSIONS,
    ExtractionFailed,
    SkipFile,
    extract_text,
    kind_for,
)
from fixtures_bad_files import (
    make_binary_file,
    make_blank_pdf,
    make_bytes_named_file,
    make_corrupt_pdf,
    make_docx,
    make_encrypted_pdf,
    make_sparse_file,
    make_text_pdf,
)


def skipped(path: Path | str, **kw: int) -> str:
    with pytest.raises(SkipFile) as info:
        extract_text(path, **kw)
    return info.value.reason


def failed(path: Path | str, **kw: int) -> str:
    with pytest.raises(ExtractionFailed) as info:
        extract_text(path, **kw)
    return info.value.reason


# --------------------------------------------------------------------------- kinds


def test_kind_for_is_case_insensitive_and_covers_the_spec() -> None:
    assert kind_for("/a/B.PDF") == "pdf"
    assert kind_for("notes.Md") == "markdown"
    assert kind_for("x.tsv") == "csv"
    assert kind_for("x.jsonl") == "json"
    assert kind_for("x.htm") == "html"
    assert kind_for("main.rs") == "code"
    assert kind_for("sound.wav") is None
    assert kind_for("Makefile") is None
    code = ".py .js .ts .c .h .cpp .java .go .rs .rb .sh .sql .toml .yaml .yml .ini .cfg .tex .log"
    documents = ".txt .md .markdown .rst .csv .tsv .json .jsonl .html .htm .xml .pdf .docx"
    assert set(f"{code} {documents}".split()) <= SUPPORTED_EXTENSIONS


def test_unsupported_extension_is_skipped_without_opening(tmp_path: Path) -> None:
    assert skipped(tmp_path / "missing.exe") == "unsupported file type (.exe)"


# --------------------------------------------------------------------------- plain text


def test_utf8_text_normalised(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_bytes("caf\u00e9 line1\r\nline2\rline3\n".encode())
    result = extract_text(f)
    assert result.text == "caf\u00e9 line1\nline2\nline3\n"
    assert (result.kind, result.encoding, result.title) == ("text", "utf-8", None)


def test_empty_and_whitespace_only_files_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.md").write_bytes(b"  \n\t\r\n ")
    assert skipped(tmp_path / "empty.txt") == "empty"
    assert skipped(tmp_path / "blank.md") == "empty"


def test_binary_file_named_txt_is_skipped(tmp_path: Path) -> None:
    assert skipped(make_binary_file(tmp_path / "data.txt")) == "binary file"


def test_control_garbage_without_nul_is_skipped_as_binary(tmp_path: Path) -> None:
    f = tmp_path / "noise.log"
    f.write_bytes(bytes(range(1, 32)) * 200)
    assert skipped(f) == "binary file"


LEGACY_SAMPLES = [
    (
        "latin-1",
        "Le gar\u00e7on \u00e9tait tr\u00e8s content de voir sa soeur \u00e0 la f\u00eate. "
        "\u00c7a co\u00fbte cher, n'est-ce pas? \u00dcber Stra\u00dfe gr\u00fc\u00dfen M\u00fcller.",
    ),
    (
        "cp1252",
        "\u201cSmart quotes\u201d \u2013 a euro sign \u20ac costs 5 \u20ac. Na\u00efve caf\u00e9 "
        "d\u00e9j\u00e0 vu, the se\u00f1or\u2019s pi\u00f1ata\u2026",
    ),
    (
        "shift_jis",
        "日本語のテキストです。これはシフトJISでエンコードされた文章で、文字コードの判定を"
        "確認するためのものです。東京都は日本の首都であり、多くの人々が住んでいます。",
    ),
    (
        "cp1251",
        "Привет, мир! Это русский текст в кодировке Windows-1251. Съешь же ещё этих "
        "мягких французских булок, да выпей чаю.",
    ),
    ("utf-16", "UTF-16 with a BOM: \u00fcn\u00efc\u00f6d\u00e9 and \u65e5\u672c."),
    ("utf-16-le", "UTF-16 without a BOM, mostly ASCII so the NUL pattern gives it away."),
    ("utf-8-sig", "UTF-8 with a BOM: \u00e9t\u00e9."),
]


@pytest.mark.parametrize(("encoding", "text"), LEGACY_SAMPLES, ids=[s[0] for s in LEGACY_SAMPLES])
def test_legacy_encodings_decoded(tmp_path: Path, encoding: str, text: str) -> None:
    f = tmp_path / "legacy.txt"
    f.write_bytes(text.encode(encoding))
    result = extract_text(f)
    assert result.text == text
    assert result.encoding


# --------------------------------------------------------------------------- limits


def test_small_max_bytes_skips_as_too_large(tmp_path: Path) -> None:
    f = tmp_path / "big.txt"
    f.write_text("word " * 400)
    assert skipped(f, max_bytes=1000) == "too large (2000 bytes > limit)"


def test_200_mb_file_skipped_without_being_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = make_sparse_file(tmp_path / "huge.txt", 200 * 1024 * 1024)

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was read although it is over the limit")

    monkeypatch.setattr(os, "fdopen", no_reading)
    monkeypatch.setattr(os, "read", no_reading)
    started = time.monotonic()
    assert skipped(f) == f"too large ({200 * 1024 * 1024} bytes > limit)"
    assert time.monotonic() - started < 1.0


def test_text_truncated_to_max_chars(tmp_path: Path) -> None:
    f = tmp_path / "long.txt"
    f.write_text("abcdefghij" * 100)
    assert extract_text(f, max_chars=25).text == "abcdefghij" * 2 + "abcde"


# --------------------------------------------------------------------------- markup and data


def test_html_title_kept_script_and_style_dropped(tmp_path: Path) -> None:
    f = tmp_path / "page.html"
    f.write_text(
        "<!doctype html><html><head><title> My  Page &amp; more</title>"
        "<style>body { color: red }</style><script>var secret = 'x<y';</script></head>"
        "<body><h1>Heading</h1><p>First &eacute;t&eacute; &lt;tag&gt;</p><p>Second<br>line</p>"
        "<ul><li>one</li><li>two</li></ul></body></html>"
    )
    result = extract_text(f)
    assert result.kind == "html"
    assert result.title == "My Page & more"
    assert result.text == "My Page & more\nHeading\nFirst \u00e9t\u00e9 <tag>\nSecond\nline\none\ntwo"
    assert "secret" not in result.text and "color" not in result.text


def test_html_meta_charset_respected(tmp_path: Path) -> None:
    f = tmp_path / "ru.htm"
    f.write_bytes('<meta charset="windows-1251"><title>Тест</title><p>Привет</p>'.encode("cp1251"))
    result = extract_text(f)
    assert (result.title, result.text) == ("Тест", "Тест\nПривет")


def test_markdown_title_is_first_heading_outside_code(tmp_path: Path) -> None:
    f = tmp_path / "notes.md"
    f.write_text("Intro\n\n```\n# not a title\n```\n\n# Real Title #\n\nBody text.\n")
    result = extract_text(f)
    assert (result.kind, result.title) == ("markdown", "Real Title")
    assert result.text.startswith("Intro\n")


def test_markdown_front_matter_title_and_no_title(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text('---\ntitle: "From front matter"\n---\n# Heading\n')
    (tmp_path / "b.markdown").write_text("just text\n## second level only\n")
    assert extract_text(tmp_path / "a.md").title == "From front matter"
    assert extract_text(tmp_path / "b.markdown").title is None


def test_json_values_extracted_and_invalid_json_kept_raw(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"name": "Alice", "tags": ["x", "y"], "n": {"age": 3, "ok": true}}')
    (tmp_path / "b.json").write_text('{"broken": ')
    (tmp_path / "c.jsonl").write_text('{"q": "hello"}\n{"q": "world"}\n')
    (tmp_path / "d.json").write_text("[" * 50_000 + "]" * 50_000)
    assert extract_text(tmp_path / "a.json").text == "name: Alice\ntags: x\ntags: y\nage: 3"
    assert extract_text(tmp_path / "b.json").text == '{"broken": '
    assert extract_text(tmp_path / "c.jsonl").text.split() == ["q:", "hello", "q:", "world"]
    assert extract_text(tmp_path / "d.json").text.startswith("[[[")


def test_csv_kept_as_text(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text("name,city\nAnna,Berlin\n")
    assert extract_text(f).text == "name,city\nAnna,Berlin\n"


# --------------------------------------------------------------------------- PDF


def test_valid_pdf_text_pages_and_title(tmp_path: Path) -> None:
    f = make_text_pdf(tmp_path / "doc.pdf", ["Hello world", "Second (page)"], title="Greeting")
    result = extract_text(f)
    assert result.kind == "pdf"
    assert "Hello" in result.text
    assert result.text.split("\f") == ["Hello world", "Second (page)", ""]  # a form feed ends each page
    assert result.title == "Greeting"


def test_corrupt_pdf_fails(tmp_path: Path) -> None:
    assert failed(make_corrupt_pdf(tmp_path / "bad.pdf")).startswith("corrupt PDF: ")


def test_encrypted_pdf_fails(tmp_path: Path) -> None:
    assert failed(make_encrypted_pdf(tmp_path / "locked.pdf", user_password="secret")) == "encrypted PDF (needs a password)"


def test_encrypted_pdf_with_empty_user_password_is_read(tmp_path: Path) -> None:
    f = make_encrypted_pdf(tmp_path / "owner-only.pdf", user_password="", text="Hello secret")
    assert extract_text(f).text == "Hello secret\f"


def test_pdf_without_text_layer_skipped(tmp_path: Path) -> None:
    assert skipped(make_blank_pdf(tmp_path / "scan.pdf")).startswith("PDF has no text layer")  # OCR: or found none


# --------------------------------------------------------------------------- DOCX


def test_docx_paragraphs_and_table_cells(tmp_path: Path) -> None:
    result = extract_text(make_docx(tmp_path / "garden.docx", title="Garden plan"))
    assert result.kind == "docx"
    assert result.title == "Garden plan"
    assert result.text.split("\n") == [
        "First paragraph about gardening.",
        "tomato",
        "cucumber",
        "basil",
        "parsley",
        "Closing paragraph.",
    ]


def test_docx_that_is_not_a_zip_fails(tmp_path: Path) -> None:
    f = tmp_path / "fake.docx"
    f.write_bytes(b"this is plain text, not a zip")
    assert failed(f).startswith("not a valid DOCX")


def test_zip_that_is_not_a_docx_fails(tmp_path: Path) -> None:
    f = tmp_path / "other.docx"
    with zipfile.ZipFile(f, "w") as z:
        z.writestr("hello.txt", "hi")
    assert failed(f).startswith("not a valid DOCX: ")


# --------------------------------------------------------------------------- file system trouble


def test_vanished_file_fails(tmp_path: Path) -> None:
    f = tmp_path / "gone.txt"
    f.write_text("soon gone")
    f.unlink()
    assert failed(f) == "file vanished before it could be read"


def test_permission_denied_simulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "secret.txt"
    f.write_text("top secret")
    real_open = os.open

    def deny(path: str, *args: int, **kwargs: int) -> int:
        if os.fspath(path) == str(f):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    assert failed(f) == "permission denied"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores file modes")
def test_permission_denied_real(tmp_path: Path) -> None:
    f = tmp_path / "locked.txt"
    f.write_text("top secret")
    f.chmod(0)
    try:
        assert failed(f) == "permission denied"
    finally:
        f.chmod(0o644)


def test_directory_with_document_name_fails(tmp_path: Path) -> None:
    d = tmp_path / "folder.txt"
    d.mkdir()
    assert failed(d) == "is a folder, not a file"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_named_like_a_document_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    assert skipped(fifo) == "not a regular file"


def test_non_utf8_and_very_long_names(tmp_path: Path) -> None:
    odd = make_bytes_named_file(tmp_path, b"caf\xe9.txt", b"odd name content")
    long_name = "n" * 246 + ".txt"
    assert len(long_name.encode()) == 250
    (tmp_path / long_name).write_text("long name content")
    assert extract_text(odd).text == "odd name content"
    assert extract_text(tmp_path / long_name).text == "long name content"


def test_source_file_is_not_modified(tmp_path: Path) -> None:
    f = make_text_pdf(tmp_path / "keep.pdf")
    before = (f.read_bytes(), f.stat().st_mtime_ns)
    extract_text(f)
    assert (f.read_bytes(), f.stat().st_mtime_ns) == before


# pages where html.parser and libxml2 (lxml) could part ways: the fast reader must give the same text
AWKWARD_PAGES = [
    "<nav>menu<p>hidden?</p></div><p>after</p>",
    "<p><b>bold <i>both</b> italic</i></p><p>two</p>",
    "<pre>line1<br>line2<br/>  indented</pre><p>x</p>",
    "<P CLASS='headerlink'>\u00b6</P><DIV>Hello <B>World</B></DIV>",
    "<div hidden>secret</div><p>shown</p>",
    "<p>caf&eacute; &amp; &lt;tag&gt; &#8212; &nbsp;x</p>",
    "<body><title>T</title><p>body</p></body>",
    "<p>a</p><script>if (a<b) { document.write('<p>x</p>') }</script><p>b</p>",
    "just text with <unknown>tags</unknown> and < signs",
    "<p>one<p>two<div>three</div>four",
    "<?xml version='1.0' encoding='utf-8'?><html><body><p>x</p></body></html>",
    "<table><tr><td>a</td><td>b</td></tr></table>",
    "<pre>code\n  more",
    "<p>a<!-- hidden --> b</p><!-- <p>c</p> -->",
    "<main><header><h1>Title</h1></header><p>text</p></main><footer>foot</footer>",
    "<div class='sphinxsidebar'><p>side</p></div><h1>Heading<a class='headerlink'>\u00b6</a></h1><p>body</p>",
]


@pytest.mark.parametrize("page", AWKWARD_PAGES)
def test_html_read_by_lxml_gives_what_html_parser_gives(page: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from desktop_search.documents import html

    fast = html.html_text(page)
    assert html._lxml_collect(page, None) is not None  # the fast reader read it
    monkeypatch.setattr(html, "_lxml_collect", lambda raw, max_chars: None)
    assert fast == html.html_text(page)


def test_html_that_lxml_refuses_is_read_by_html_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    from lxml import etree

    from desktop_search.documents import html

    class Refusing:
        def __init__(self, **kwargs):
            pass

        def feed(self, data):
            raise etree.ParserError("refused")

    monkeypatch.setattr(etree, "HTMLParser", Refusing)
    assert html._lxml_collect("<p>x</p>", None) is None
    assert html.html_text("<title>T</title><p>kept text</p>") == ("T\nkept text", "T")

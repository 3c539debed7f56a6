"""Issue 15, items 6, 8, 9 and 11: how queries are read, titles, the main text of HTML pages, exclusions."""

from __future__ import annotations

import os
from pathlib import Path

from desktop_search.documents import extract_text

SPHINX_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8" /><title>7. Input and Output &#8212; Python 3.11 documentation</title>
<script>var x = 1;</script></head>
<body>
<div class="mobile-nav"><nav class="nav-content" role="navigation"><form role="search">Quick search</form></nav></div>
<div class="related" role="navigation" aria-label="related navigation"><ul><li><a href="genindex.html">index</a></li>
<li><a href="modules.html">previous</a> |</li></ul></div>
<div class="document"><div class="documentwrapper"><div class="bodywrapper"><div class="body" role="main">
<section id="input-and-output">
<h1><span class="section-number">7. </span>Input and Output<a class="headerlink" href="#input-and-output"
 title="Permalink to this heading">¶</a></h1>
<p>There are several ways to present the output of a program; data can be printed
in a human-readable form, or written to a file
for future use.</p>
<div class="highlight-python3 notranslate"><div class="highlight"><pre><span></span><span class="gp">&gt;&gt;&gt; </span><span class="k">for</span> x <span class="ow">in</span> range(3):
<span class="gp">... </span>    <span class="nb">print</span>(x)
<span class="gp">... </span>
</pre></div></div>
</section>
</div></div></div>
<div class="sphinxsidebar" role="navigation" aria-label="main navigation"><h3>Table of Contents</h3>
<ul><li>7.1. Fancier Output Formatting</li></ul><div role="note">Show Source</div></div>
</div>
<div class="footer">&copy; <a href="copyright.html">Copyright</a> 2001-2026, Python Software Foundation.<br />
Created using <a href="https://www.sphinx-doc.org/">Sphinx</a> 5.3.0.</div>
</body></html>
"""


# --------------------------------------------------------------------------- item 9: HTML text


def test_html_keeps_pre_indentation_and_drops_permalinks_and_navigation(tmp_path: Path) -> None:
    f = tmp_path / "inputoutput.html"
    f.write_text(SPHINX_PAGE, encoding="utf-8")
    x = extract_text(f)
    assert x.title == "7. Input and Output \u2014 Python 3.11 documentation"
    # the code block exactly as written, indentation and line breaks kept
    assert ">>> for x in range(3):\n...     print(x)\n..." in x.text
    # no permalink signs, no navigation, sidebar or footer
    assert "\u00b6" not in x.text
    for furniture in ("Quick search", "previous", "index", "Table of Contents", "Fancier", "Show Source",
                      "Copyright", "Sphinx", "Python Software Foundation"):
        assert furniture not in x.text, furniture
    # the paragraph is one line (reflowed): the source's line breaks inside it mean nothing
    assert ("There are several ways to present the output of a program; data can be printed in a "
            "human-readable form, or written to a file for future use.") in x.text.split("\n")
    assert x.text.split("\n")[:2] == ["7. Input and Output \u2014 Python 3.11 documentation", "7. Input and Output"]
    assert "for future use.\n\n>>> for x" in x.text  # a blank line sets the code block apart


def test_html_drops_nav_header_footer_aside_but_keeps_an_articles_own_header(tmp_path: Path) -> None:
    f = tmp_path / "blog.html"
    f.write_text(
        "<html><body><header>Site name <a>Home</a></header><nav>Menu entries</nav>"
        "<aside>Related posts</aside><div hidden>Hidden text</div>"
        "<main><article><header><h1>The real heading</h1></header><p>Body words.</p>"
        "<footer>Posted on Monday</footer></article></main>"
        "<div class='breadcrumbs'>You are here</div><div class='topNav'>Overview Package Class</div>"
        "<footer>Site footer</footer></body></html>",
        encoding="utf-8",
    )
    x = extract_text(f)
    assert x.text == "The real heading\nBody words.\nPosted on Monday"
    assert x.title == "The real heading"  # no <title>: the first heading


def test_html_without_title_or_heading_has_no_title_and_unclosed_tags_do_not_swallow_text(tmp_path: Path) -> None:
    f = tmp_path / "plain.html"
    f.write_text("<p>One <b>bold<p>Two <br> lines<nav>menu<p>still menu</nav><p>after", encoding="utf-8")
    x = extract_text(f)
    assert x.title is None
    assert x.text == "One bold\nTwo\nlines\nafter"


# --------------------------------------------------------------------------- item 8: titles


def test_hits_carry_the_title_of_html_pdf_docx_and_markdown(service, tmp_path):
    from fixtures_bad_files import make_docx, make_text_pdf

    root = tmp_path / "titled"
    root.mkdir()
    (root / "3.5.html").write_text(SPHINX_PAGE, encoding="utf-8")
    make_text_pdf(root / "paper.pdf", ["Gardening and tomato output on the balcony"], title="Balcony Gardens")
    make_docx(root / "plan.docx", title="Garden plan")
    (root / "notes.md").write_text("# Tomato notes\n\nTomato output was good.", encoding="utf-8")
    (root / "plain.txt").write_text("tomato output without any title", encoding="utf-8")
    _index(service, root)
    titles = {h.name: h.title for h in service.search("tomato output gardening", "bm25", k=10)}
    assert titles == {"3.5.html": "7. Input and Output \u2014 Python 3.11 documentation", "paper.pdf": "Balcony Gardens",
                      "plan.docx": "Garden plan", "notes.md": "Tomato notes", "plain.txt": ""}
    hit = next(h for h in service.search("tomato", "bm25") if h.name == "plain.txt")
    assert hit.label == "plain.txt" and hit.to_dict()["title"] == ""


# --------------------------------------------------------------------------- item 6: pasted text


def _index(service, root: Path) -> None:
    from conftest import run

    last = run(service.index([root]))
    assert last.phase == "done"


def _names(hits) -> list[str]:
    return [h.name for h in hits]


def test_operators_that_filter_everything_away_fall_back_to_the_words_with_a_notice(service, corpus):
    from desktop_search.retrievers.types import SearchResult

    _index(service, corpus)
    for retriever in ("bm25", "dense", "hybrid"):
        hits = service.search('"oven hot" bread', retriever)  # no file has the words in that order
        assert isinstance(hits, SearchResult)
        assert "bread.md" in _names(hits), retriever
        assert hits.notice == ("No file contains the phrase \u201coven hot\u201d; showing results for the words."), \
            retriever
        assert hits.query == "oven hot bread"
    # operators that do match are still filters, and say nothing
    hits = service.search('"hot oven"', "bm25")
    assert _names(hits) == ["bread.md"] and hits.notice == ""
    hits = service.search("water -yeast", "bm25")
    assert "bread.md" not in _names(hits) and hits.notice == ""
    # a required word and an exclusion nobody passes: named in the notice
    hits = service.search("+quicksort -sorted", "bm25")
    assert _names(hits)[0] == "sort.py"
    assert hits.notice == ("No file matches \u201c+quicksort\u201d and without \u201csorted\u201d; showing results "
                           "for the words.")


def test_a_long_pasted_paragraph_is_read_as_words(service, corpus):
    _index(service, corpus)
    pasted = ('Misfolded proteins - as the "textbook" puts it - cause diseases such as Alzheimer\'s; '
              'folding determines what a protein can do')
    for retriever in ("bm25", "dense", "hybrid"):
        hits = service.search(pasted, retriever)
        assert hits and hits[0].name == "proteins.txt", retriever
        assert "long query" in hits.notice.lower()
    assert service.search("proteins folding diseases", "bm25").notice == ""  # short, no operators: nothing to say


def test_dense_never_embeds_operator_characters(service, corpus):
    _index(service, corpus)
    seen: list[str] = []
    enc = service.encoder
    original = enc.encode_query

    def spy(text):
        seen.append(text)
        return original(text)

    enc.encode_query = spy
    try:
        service.search('"hot oven" +bread -quantum', "dense")
    finally:
        enc.encode_query = original
    assert seen and all('"' not in t and "+" not in t and "-" not in t and "quantum" not in t for t in seen), seen
    assert "hot oven" in seen[0] and "bread" in seen[0]


def test_compare_and_cli_show_the_notice(service, corpus, capsys):
    _index(service, corpus)
    res = service.compare('"oven hot"', ("bm25", "hybrid"), k=3)
    assert set(res["notices"]) == {"bm25", "hybrid"}
    assert "phrase \u201coven hot\u201d" in res["notices"]["bm25"]


def test_changed_html_extraction_reads_unchanged_pages_again(service, tmp_path, monkeypatch):
    from desktop_search.documents import extract as extract_module

    root = tmp_path / "site"
    root.mkdir()
    (root / "page.html").write_text(SPHINX_PAGE, encoding="utf-8")
    (root / "notes.txt").write_text("plain notes about output", encoding="utf-8")
    _index(service, root)
    from conftest import run

    assert run(service.index()).stats["to_read"] == 0  # nothing changed: nothing read
    # an extractor change (a new version of the HTML reader) reads the HTML pages again, not the rest
    monkeypatch.setitem(extract_module.EXTRACTION_VERSIONS, "html", extract_module.EXTRACTION_VERSIONS["html"] + 1)
    assert run(service.index()).stats["to_read"] == 1
    assert run(service.index()).stats["to_read"] == 0  # and only once


# --------------------------------------------------------------------------- item 11: exclusions


def _site(root: Path) -> Path:
    files = {
        "index.html": "<title>Start</title><p>Welcome to the library documentation.</p>",
        "genindex-A.html": "<title>Index A</title><p>library documentation library documentation</p>",
        "genindex-B.html": "<title>Index B</title><p>library documentation</p>",
        "search.html": "<title>Search</title><p>library documentation search</p>",
        "sub/search.html": "<title>Sub search</title><p>a library page that is not the top search page</p>",
        "build-notes/out.txt": "generated library documentation",
        "_sources/index.rst.txt": "Welcome to the library documentation (source).",
        "_sources/keep.rst.txt": "library documentation source kept",
    }
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


def _indexed(service) -> set[str]:
    return {os.path.relpath(d.path, d.path.split("/site/")[0] + "/site") for d in service.files()}


def test_exclusions_global_and_per_folder_leave_the_index_on_the_next_scan(service, tmp_path):
    from conftest import run

    root = _site(tmp_path / "site")
    _index(service, root)
    assert "genindex-A.html" in _indexed(service)
    assert service.exclusions.add("genindex-*.html") is True
    assert service.exclusions.add("genindex-*.html") is False  # already there
    service.exclusions.add("/search.html", folder=str(root))  # the top one only (anchored)
    last = run(service.index())
    assert last.stats["removed"] == 3 and last.stats["excluded"] == 3
    files = _indexed(service)
    assert {"genindex-A.html", "genindex-B.html", "search.html"}.isdisjoint(files)
    assert {"index.html", "sub/search.html"} <= files
    assert not any("genindex" in h.path for h in service.search("library documentation", "bm25", k=20))
    # the settings file holds them: a new service (an indexing child) sees the same
    from desktop_search.service import SearchService

    with SearchService(service.data_dir, encoder=service.encoder, model="another-model") as again:
        assert again.exclusions.listing() == {"global": ["genindex-*.html"],
                                              "folders": {str(root): ["/search.html"]}, "use_gitignore": True}
        again.exclusions.add("*.tmp")
    # saving the patterns does not save that run's own --model
    from desktop_search.config import IndexSettings

    assert IndexSettings.load(service.settings_path).model == IndexSettings().model
    service.exclusions.remove("*.tmp")
    # removing a pattern brings the files back on the next scan
    service.exclusions.remove("genindex-*.html")
    run(service.index())
    assert "genindex-A.html" in _indexed(service)


def test_gitignore_files_inside_folders_count_unless_turned_off(service, tmp_path):
    from conftest import run

    root = _site(tmp_path / "site")
    (root / ".gitignore").write_text("# generated\nbuild-notes/\n_sources/*\n!_sources/keep.rst.txt\n")
    (root / "sub" / ".gitignore").write_text("search.html\n")  # relative to sub/
    _index(service, root)
    files = _indexed(service)
    assert "build-notes/out.txt" not in files and "_sources/index.rst.txt" not in files
    assert "_sources/keep.rst.txt" in files  # taken back with !
    assert "sub/search.html" not in files and "search.html" in files
    # a folder's own pattern wins over .gitignore (it is more specific): take one back
    service.exclusions.add("!sub/search.html", folder=str(root))
    run(service.index())
    assert "sub/search.html" in _indexed(service)
    service.exclusions.set_use_gitignore(False)
    run(service.index())
    assert {"build-notes/out.txt", "_sources/index.rst.txt"} <= _indexed(service)


def test_bad_patterns_and_folders_are_clear_messages(service, tmp_path):
    import pytest

    from desktop_search.errors import KnownError

    root = _site(tmp_path / "site")
    _index(service, root)
    with pytest.raises(KnownError, match="not an exclusion pattern"):
        service.exclusions.add("   ")
    with pytest.raises(KnownError, match="not an exclusion pattern"):
        service.exclusions.add("!")
    with pytest.raises(KnownError, match="not an indexed folder"):
        service.exclusions.add("*.txt", folder=str(tmp_path))
    with pytest.raises(KnownError, match="is not an exclusion pattern"):
        service.exclusions.remove("*.nothing")
    # a removed folder takes its patterns with it
    service.exclusions.add("*.txt", folder=str(root))
    service.remove_folder(str(root))
    assert service.exclusions.listing()["folders"] == {}


def test_cli_exclude_add_list_remove_and_the_next_index_applies_them(tmp_path, capsys):
    import json

    from desktop_search.entry import main

    root = _site(tmp_path / "site")
    data = str(tmp_path / "data")
    assert main(["--data-dir", data, "index", str(root), "--no-embed", "--json"]) == 0
    capsys.readouterr()
    assert main(["--data-dir", data, "exclude", "add", "genindex-*.html"]) == 0
    assert "leave the index on the next scan" in capsys.readouterr().out
    assert main(["--data-dir", data, "exclude", "add", "search.html", "--folder", str(root)]) == 0
    assert main(["--data-dir", data, "exclude", "list", "--json"]) == 0
    out = capsys.readouterr().out
    listing = json.loads(out[out.index("{\n"):])
    assert listing == {"global": ["genindex-*.html"], "folders": {str(root): ["search.html"]}, "use_gitignore": True}
    assert main(["--data-dir", data, "index", "--no-embed"]) == 0
    assert "4 files or folders left out by exclusion patterns" in capsys.readouterr().out
    assert main(["--data-dir", data, "search", "library documentation", "--retriever", "bm25", "-k", "20", "--json"]) == 0
    paths = [h["path"] for h in json.loads(capsys.readouterr().out)["hits"]]
    assert paths and not any("genindex" in p or p.endswith("search.html") for p in paths)
    # errors are messages with exit 2, not tracebacks
    assert main(["--data-dir", data, "exclude", "remove", "nothing-*.txt"]) == 2
    assert "is not an exclusion pattern" in capsys.readouterr().err
    assert main(["--data-dir", data, "exclude", "add", "*.txt", "--folder", str(tmp_path)]) == 2
    assert "not an indexed folder" in capsys.readouterr().err
    assert main(["--data-dir", data, "status"]) == 0
    assert "Excluded in every folder: genindex-*.html" in capsys.readouterr().out
    assert main(["--data-dir", data, "exclude", "remove", "genindex-*.html"]) == 0
    assert main(["--data-dir", data, "exclude", "list"]) == 0
    assert "Every folder: no patterns" in capsys.readouterr().out


def test_cli_search_text_shows_the_notice_and_the_title(tmp_path, capsys):
    import json

    from desktop_search.entry import main

    root = _site(tmp_path / "site")
    data = str(tmp_path / "data")
    assert main(["--data-dir", data, "index", str(root), "--no-embed", "--json"]) == 0
    capsys.readouterr()
    assert main(["--data-dir", data, "search", '"documentation welcome"', "--retriever", "bm25"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == ("No file contains the phrase \u201cdocumentation welcome\u201d; showing results for the "
                        "words.")
    assert "      Index A" in lines  # the title under the path
    assert main(["--data-dir", data, "search", '"documentation welcome"', "--retriever", "bm25", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["notice"].startswith("No file contains the phrase")
    assert res["ranked_query"] == "documentation welcome"
    assert {h["title"] for h in res["hits"]} >= {"Index A", "Start"}


def test_the_notice_names_what_filtered_everything_away():
    from desktop_search.query_plan import fallback_notice, plan_query

    assert fallback_notice('"x y" "z w"') == ("No file contains the phrases \u201cx y\u201d and \u201cz w\u201d; "
                                              "showing results for the words.")
    assert fallback_notice('"defaultdict" "missing keys" -counter') == (
        "No file matches the word \u201cdefaultdict\u201d, the phrase \u201cmissing keys\u201d and without "
        "\u201ccounter\u201d; showing results for the words.")
    plan = plan_query('"defaultdict" "missing keys" -counter')
    assert (plan.query, plan.fallback) == ('"defaultdict" "missing keys" -counter', "defaultdict missing keys counter")
    assert plan_query("state-of-the-art e-mail - item").fallback is None  # dashes inside or alone: no operators

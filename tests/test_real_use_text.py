"""Issue 15, items 6, 8, 9 and 11: how queries are read, titles, the main text of HTML pages, exclusions."""

from __future__ import annotations

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


def test_html_drops_nav_header_footer_aside_but_keeps_an_articles_own_header(tmp_path: Path) -> None:
    f = tmp_path / "blog.html"
    f.write_text(
        "<html><body><header>Site name <a>Home</a></header><nav>Menu entries</nav>"
        "<aside>Related posts</aside><div hidden>Hidden text</div>"
        "<main><article><header><h1>The real heading</h1></header><p>Body words.</p>"
        "<footer>Posted on Monday</footer></article></main>"
        "<div class='breadcrumbs'>You are here</div><footer>Site footer</footer></body></html>",
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

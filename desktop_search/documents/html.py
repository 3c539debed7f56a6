"""The main text of an HTML page: its content without navigation, headers and footers; `pre` kept as written.

Why not keep every visible string: documentation sites (Sphinx, MkDocs, ...) repeat the same
navigation, sidebar and footer ("© Copyright", "Created using Sphinx") on every page, and those
passages come back for vague queries; Sphinx's "¶" permalinks end up in snippets. So elements
that are navigation by tag (nav, header, footer, aside), by ARIA role or by a well-known class
name are dropped with everything inside them. Paragraphs become one line each (the source's
line breaks inside a paragraph mean nothing), so the preview reflows them; `pre` blocks keep
their line breaks and indentation, set apart by a blank line.
"""

from __future__ import annotations

from html.parser import HTMLParser

# HTML_EXTRACTION_VERSION (documents/extract.py) is bumped when the text made here changes.
FEED_CHARS = 1 << 20  # the parser reads a page in slices this long, to stop at max_chars

BLOCK_TAGS = frozenset(
    "address article aside blockquote br dd details div dl dt figcaption figure footer form"
    " h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table td th tr ul"
    " caption title".split()
)
HEADING_TAGS = frozenset("h1 h2 h3 h4 h5 h6".split())
# never text: their content is code, styling or an image
INVISIBLE_TAGS = frozenset({"script", "style", "noscript", "template", "svg"})
# page furniture, dropped with everything inside (a header or footer of an article or of the main
# content is that content's own: its heading, its byline)
NAVIGATION_TAGS = frozenset({"nav", "header", "footer", "aside"})
OWN_FURNITURE_TAGS = frozenset({"header", "footer"})
CONTENT_TAGS = frozenset({"article", "main"})
NAVIGATION_ROLES = frozenset({"navigation", "banner", "contentinfo", "search"})
NAVIGATION_CLASSES = frozenset(
    {
        "sphinxsidebar",  # Sphinx: the sidebar (contents, previous / next, quick search)
        "related",  # Sphinx: the previous / next / index bar above and below the page
        "footer",
        "headerlink",  # Sphinx and MkDocs: the "¶" permalink after every heading
        "mobile-nav",  # python-docs-theme
        "navigation",
        "navbar",
        "breadcrumb",
        "breadcrumbs",
        "skip-link",
        "rst-versions",  # Read the Docs: the version switcher
        "topnav",  # Javadoc: the bars above and below every page
        "bottomnav",
        "subnav",
        "skipnav",
    }
)
# elements that never have an end tag: they cannot hold content to drop
VOID_TAGS = frozenset("area base br col embed hr img input link meta param source track wbr".split())
PERMALINK_SIGNS = "\u00b6\U0001f517"  # ¶ and 🔗, left by themes that do not mark the link's class


def is_navigation(tag: str, attrs, *, in_content: bool = False) -> bool:
    """Whether an element is page furniture (navigation, header, footer, sidebar, permalink).
    `attrs`: (name, value) pairs (html.parser) or a mapping of them (lxml)."""
    if tag in NAVIGATION_TAGS and not (in_content and tag in OWN_FURNITURE_TAGS):
        return True
    for name, value in (attrs.items() if hasattr(attrs, "items") else attrs):
        if not value:
            if name == "hidden":
                return True
            continue
        if name == "role" and value.strip().lower() in NAVIGATION_ROLES:
            return True
        if name == "class" and NAVIGATION_CLASSES.intersection(value.lower().split()):
            return True
    return False


class MainText(HTMLParser):
    """Collects the main text of a page as blocks (paragraph lines and `pre` blocks), and its titles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, bool]] = []  # (text, is a pre block)
        self.title_parts: list[str] = []
        self.first_heading: str | None = None
        self._inline: list[str] = []  # words of the paragraph being read
        self._pre: list[str] | None = None
        self._pre_depth = 0
        self._skip_tag: str | None = None  # the dropped element we are inside, and its nesting depth
        self._skip_depth = 0
        self._in_title = False
        self._heading: list[str] | None = None
        self._heading_tag = ""
        self._content_depth = 0  # open article / main elements
        self.n_chars = 0  # characters of main text collected so far

    # -- structure ------------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs) -> None:
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth += 1
            return
        if tag == "title":
            self._in_title = True
            return
        if tag not in VOID_TAGS and (tag in INVISIBLE_TAGS
                                     or is_navigation(tag, attrs, in_content=self._content_depth > 0)):
            self._skip_tag, self._skip_depth = tag, 1
            return
        if tag in CONTENT_TAGS:
            self._content_depth += 1
        if self._pre is not None:
            if tag == "pre":
                self._pre_depth += 1
            elif tag == "br":
                self._pre.append("\n")
            return
        if tag == "pre":
            self._flush()
            self._pre, self._pre_depth = [], 1
        elif tag in BLOCK_TAGS:
            self._flush()
        if tag in HEADING_TAGS and self._heading is None:
            self._heading, self._heading_tag = [], tag

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip_tag is not None:
            return
        if self._pre is not None:
            if tag == "br":
                self._pre.append("\n")
        elif tag in BLOCK_TAGS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth -= 1
                if self._skip_depth == 0:
                    self._skip_tag = None
            return
        if tag == "title":
            self._in_title = False
            return
        if tag in CONTENT_TAGS and self._content_depth:
            self._content_depth -= 1
        if self._pre is not None:
            if tag == "pre":
                self._pre_depth -= 1
                if self._pre_depth == 0:
                    self._end_pre()
            return
        if tag in BLOCK_TAGS:
            self._flush()
        if tag == self._heading_tag and self._heading is not None:
            text = " ".join("".join(self._heading).split()).strip(PERMALINK_SIGNS + " ")
            if self.first_heading is None and text:
                self.first_heading = text
            self._heading, self._heading_tag = None, ""

    def handle_data(self, data: str) -> None:
        if self._skip_tag is not None:
            return
        if self._in_title:
            self.title_parts.append(data)
        elif self._pre is not None:
            self._pre.append(data)
        else:
            self._inline.append(data)
            if self._heading is not None:
                self._heading.append(data)

    def close(self) -> None:
        super().close()
        self.finish()

    def finish(self) -> None:
        """End what is still open at the end of the page."""
        if self._pre is not None:
            self._end_pre()
        self._flush()

    # -- blocks ---------------------------------------------------------------------------
    def _flush(self) -> None:
        """End the paragraph being read: one line, whitespace collapsed, permalink signs dropped."""
        if not self._inline:
            return
        line = " ".join("".join(self._inline).split())
        self._inline = []
        line = line.rstrip(PERMALINK_SIGNS + " ")
        if line.strip(PERMALINK_SIGNS + " "):
            self.blocks.append((line, False))
            self.n_chars += len(line) + 1

    def _end_pre(self) -> None:
        """A `pre` block as written: its lines and indentation kept, blank edges and trailing spaces dropped."""
        raw = "".join(self._pre or [])
        self._pre, self._pre_depth = None, 0
        lines = [line.rstrip() for line in raw.split("\n")]
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        if lines:
            self.blocks.append(("\n".join(lines), True))
            self.n_chars += sum(len(line) + 1 for line in lines) + 2

    def body(self) -> str:
        """The blocks, one line per paragraph; a blank line around each pre block sets the code apart."""
        out: list[str] = []
        prev_pre = False
        for text, pre in self.blocks:
            if out:
                out.append("\n\n" if pre or prev_pre else "\n")
            out.append(text)
            prev_pre = pre
        return "".join(out)


class _Events:
    """lxml's parser-target interface (start, end, data, close): a `MainText`'s own handlers, bound
    directly (lxml calls them for every element; a wrapper call each was a sixth of the time)."""

    def __init__(self, collector: MainText) -> None:
        self.collector = collector
        self.start = collector.handle_starttag  # lxml gives the attributes as a mapping
        self.end = collector.handle_endtag
        self.data = collector.handle_data

    def close(self) -> MainText:
        return self.collector


def _read(raw: str, max_chars: int | None, feed, collector: MainText) -> None:
    """Feed `raw` (in FEED_CHARS slices with `max_chars`, stopping once that much is collected)."""
    if max_chars is None:
        feed(raw)
        return
    for i in range(0, len(raw), FEED_CHARS):
        feed(raw[i:i + FEED_CHARS])
        if collector.n_chars > max_chars:
            break


def _lxml_collect(raw: str, max_chars: int | None) -> MainText | None:
    """The page read by libxml2's HTML parser (through lxml: C; 3.4x faster than html.parser on the
    775 HTML pages under /usr/share/doc, with the same text from every one), its events going to
    the same handlers; None when lxml is missing or refuses the text (html.parser reads it then)."""
    try:
        from lxml import etree
    except ImportError:
        return None
    collector = MainText()
    try:
        parser = etree.HTMLParser(target=_Events(collector), recover=True, no_network=True,
                                  remove_comments=True, remove_pis=True)
        _read(raw, max_chars, parser.feed, collector)
        parser.close()
    except (etree.LxmlError, ValueError, TypeError):
        return None
    collector.finish()
    return collector


def html_text(raw: str, max_chars: int | None = None) -> tuple[str, str | None]:
    """Main text of an HTML document (its title first, one line per paragraph) and its title.

    The title is the `<title>`, else the first heading. With `max_chars`, reading stops once
    that much text is collected (extract_text keeps no more): 45 MB of nested elements read
    whole held 0.77 GB in blocks."""
    parser = _lxml_collect(raw, max_chars)
    if parser is None:
        parser = MainText()
        _read(raw, max_chars, parser.feed, parser)
        parser.close()
    title = " ".join("".join(parser.title_parts).split()) or None
    body = parser.body()
    if title is None:
        return body, parser.first_heading
    return (f"{title}\n{body}" if body else title), title

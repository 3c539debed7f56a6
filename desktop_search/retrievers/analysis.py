"""Text analysis for BM25: Unicode words, lower case, English stop words, Snowball stems, CJK bigrams."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import Stemmer

_WORD = re.compile(r"\w+", re.UNICODE)
_CJK_CLASS = r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]"


@lru_cache(maxsize=1)
def _cjk() -> re.Pattern:
    # compiled on the first text with a character from U+3040 on: its wide ranges cost 2 ms to compile
    return re.compile(_CJK_CLASS)


def _has_cjk(text: str) -> bool:
    """Whether `text` holds a CJK character. ASCII text answers at once (str.isascii is O(1)), and
    text with nothing from U+3040 on (Latin, Greek, Cyrillic, punctuation) without the regex."""
    return not text.isascii() and max(text) >= "\u3040" and _cjk().search(text) is not None


STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most
    my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    you your yours yourself yourselves""".split()
)

_stemmer = Stemmer.Stemmer("english")


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _stemmer.stemWord(word)


def _expand(word: str) -> list[str]:
    """CJK runs become overlapping character bigrams; other words stay whole."""
    if not _has_cjk(word):
        return [word]
    chars = [c for c in word]
    if len(chars) == 1:
        return chars
    return [chars[i] + chars[i + 1] for i in range(len(chars) - 1)]


_STEMS: dict[str, str] = {}  # word -> stem: a plain dict is cheaper per word than lru_cache's call
_STEMS_MAX = 200_000


def analyze(text: str) -> list[str]:
    """Terms of a text, in order (duplicates kept).

    The indexer's hot loop (every passage of every file): text without CJK takes a path of one
    findall and dict lookups, about half the time of the general one (`_analyze_words`), with the
    same terms."""
    low = text.lower()
    if _has_cjk(low):
        return _analyze_words(low)
    stems = _STEMS
    if len(stems) > _STEMS_MAX:
        stems.clear()
    out = []
    for w in _WORD.findall(low):
        if w in STOPWORDS or len(w) > 64:
            continue
        s = stems.get(w)
        if s is None:
            s = stems[w] = _stemmer.stemWord(w)
        out.append(s)
    return out


def _analyze_words(low: str) -> list[str]:
    out = []
    for m in _WORD.finditer(low):
        for w in _expand(m.group()):
            if w in STOPWORDS or len(w) > 64:
                continue
            out.append(_stem(w))
    return out


def analyze_with_offsets(text: str) -> list[tuple[str, int, int]]:
    """(term, start, end) for each word of a text: used to highlight matches (every snippet twice).

    Text without CJK takes a quick path (the stem cache of `analyze`, no CJK test a word)."""
    if not _has_cjk(text):
        stems = _STEMS
        if len(stems) > _STEMS_MAX:
            stems.clear()
        quick = []
        for m in _WORD.finditer(text):
            w = m.group().lower()
            if w in STOPWORDS:
                continue
            st = stems.get(w)
            if st is None:
                st = stems[w] = _stemmer.stemWord(w)
            quick.append((st, m.start(), m.end()))
        return quick
    out = []
    for m in _WORD.finditer(text):
        w = m.group().lower()
        if _has_cjk(w):
            for i, t in enumerate(_expand(w)):
                out.append((t, m.start() + i, m.start() + i + len(t)))
            continue
        if w in STOPWORDS:
            continue
        out.append((_stem(w), m.start(), m.end()))
    return out


def term_spans(text: str, want: set[str] | frozenset[str]) -> list[tuple[int, int]]:
    """(start, end) of the words of `text` whose term is in `want`: what `analyze_with_offsets`
    gives filtered by `want`, without a tuple for every other word (snippets call this twice a hit)."""
    if _has_cjk(text):
        return [(a, b) for t, a, b in analyze_with_offsets(text) if t in want]
    stems = _STEMS
    if len(stems) > _STEMS_MAX:
        stems.clear()
    out = []
    for m in _WORD.finditer(text):
        w = m.group().lower()
        st = stems.get(w)
        if st is None:
            if w in STOPWORDS:
                continue
            st = stems[w] = _stemmer.stemWord(w)
        if st in want and w not in STOPWORDS:
            out.append(m.span())
    return out


@dataclass(frozen=True)
class ParsedQuery:
    """A user query: free terms (ranked, OR), required (+word), excluded (-word), phrases ("...")."""

    terms: tuple[str, ...]
    required: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.terms or self.required or self.phrases)


_TOKEN = re.compile(r'([+-]?)"([^"]*)"|([+-]?)(\S+)')


def parse_query(q: str) -> ParsedQuery:
    """Parse `word "a phrase" +must -not`; phrase words also count as ranked terms."""
    terms: list[str] = []
    required: list[str] = []
    excluded: list[str] = []
    phrases: list[str] = []
    for m in _TOKEN.finditer(q):
        if m.group(2) is not None:
            sign, body = m.group(1), m.group(2).strip()
            if not body:
                continue
            if sign == "-":
                excluded.extend(analyze(body))
                continue
            words = analyze(body)
            terms.extend(words)
            if len(_WORD.findall(body)) > 1:
                phrases.append(body)
            else:
                required.extend(words)
        else:
            sign, body = m.group(3), m.group(4)
            words = analyze(body)
            if sign == "-" and len(body) > 1:
                excluded.extend(words)
            elif sign == "+":
                required.extend(words)
                terms.extend(words)
            else:
                terms.extend(words)
    return ParsedQuery(tuple(terms), tuple(required), tuple(excluded), tuple(phrases))


def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """A regex matching the phrase's words in order, separated by any non-word characters."""
    words = _WORD.findall(phrase)
    return re.compile(r"(?<!\w)" + r"\W+".join(re.escape(w) for w in words) + r"(?!\w)", re.IGNORECASE)


# -- how a query is read: operators, or plain words -------------------------------------------------

LONG_QUERY_WORDS = 12  # longer queries are natural text (a pasted paragraph), not operator syntax


@dataclass(frozen=True)
class QueryToken:
    """One piece of a query as typed: a word or a quoted phrase, with its sign ("", "+" or "-")."""

    sign: str
    body: str
    quoted: bool

    @property
    def operator(self) -> bool:
        """Whether this piece filters (a phrase, +required or -excluded) rather than only ranks."""
        if not _WORD.search(self.body):
            return False
        return self.quoted or self.sign == "+" or (self.sign == "-" and len(self.body) > 1)

    def plain(self) -> str:
        """This piece as words that only rank: an operator's words (signs and quotes gone), else as typed."""
        return " ".join(_WORD.findall(self.body)) if self.operator or self.quoted else self.typed()

    def typed(self) -> str:
        return f'{self.sign}"{self.body}"' if self.quoted else f"{self.sign}{self.body}"


def query_tokens(q: str) -> list[QueryToken]:
    """The query's pieces in order, read as `parse_query` reads them."""
    out = []
    for m in _TOKEN.finditer(q):
        if m.group(2) is not None:
            if m.group(2).strip():
                out.append(QueryToken(m.group(1), m.group(2).strip(), True))
        else:
            out.append(QueryToken(m.group(3), m.group(4), False))
    return out


def has_operators(q: str) -> bool:
    return any(t.operator for t in query_tokens(q))


def is_long_query(q: str) -> bool:
    return len(_WORD.findall(q)) > LONG_QUERY_WORDS


def words_only(q: str) -> str:
    """The query as plain words: quotes and + / - signs gone, every word kept (none filters)."""
    return " ".join(t.plain() for t in query_tokens(q))


def semantic_text(q: str) -> str:
    """What a dense model embeds: the query's words without operator characters; -excluded words
    are left out (embedding them would pull the ranking towards what the user does not want)."""
    return " ".join(t.plain() for t in query_tokens(q) if not (t.operator and t.sign == "-"))

"""How a query is read before any retriever ranks it: with its operators, or as plain words.

Query operators ("a phrase", +required, -excluded) filter, for every retriever. Typed on purpose
that is what the user wants; pasted text is another matter: a quotation or a word after a dash
turns a paragraph into a filter that no file passes, and the search finds nothing at all (on one
public collection whose queries are whole paragraphs, 6 % of them). So:

* a long query (more than `LONG_QUERY_WORDS` words) is natural text: its words are ranked and its
  quotes and signs are not operators;
* a short query with operators is ranked with them, and when they filter every file away its
  words are ranked instead.

Either way the result says so (`SearchResult.notice`), in the window and the CLI alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .retrievers.analysis import LONG_QUERY_WORDS, has_operators, is_long_query, query_tokens, words_only
from .retrievers.base import Ranked

__all__ = ["LONG_QUERY_WORDS", "QueryPlan", "plan_query", "rank_with_fallback"]


@dataclass(frozen=True)
class QueryPlan:
    """What to rank first, and what instead if that finds nothing (with what to tell the user each time)."""

    query: str
    notice: str = ""
    fallback: str | None = None
    fallback_notice: str = ""


def _quoted(text: str) -> str:
    return f"\u201c{text}\u201d"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def fallback_notice(query: str) -> str:
    """"No file contains the phrase “…”; showing results for the words." (what filtered everything away)."""
    ops = [t for t in query_tokens(query) if t.operator]
    phrases = [t for t in ops if t.quoted and t.sign != "-" and len(t.plain().split()) > 1]
    if ops and len(phrases) == len(ops):
        what = "the phrase" if len(phrases) == 1 else "the phrases"
        return f"No file contains {what} {_join([_quoted(t.body) for t in phrases])}; showing results for the words."
    parts = []
    for t in ops:
        if t.sign == "-":
            parts.append(f"without {_quoted(t.body)}")
        elif t.quoted and len(t.plain().split()) > 1:
            parts.append(f"the phrase {_quoted(t.body)}")
        elif t.quoted:  # one quoted word must be there, as +word
            parts.append(f"the word {_quoted(t.body)}")
        else:
            parts.append(_quoted(t.typed()))
    return f"No file matches {_join(parts)}; showing results for the words."


def plan_query(query: str) -> QueryPlan:
    """How to read `query`: see the module's docstring."""
    if not has_operators(query):
        return QueryPlan(query)
    words = words_only(query)
    if is_long_query(query):
        return QueryPlan(words, notice=f"A long query is read as plain words (more than {LONG_QUERY_WORDS}): "
                                       "quotes, + and - are not operators here.")
    return QueryPlan(query, fallback=words, fallback_notice=fallback_notice(query))


def rank_with_fallback(plan: QueryPlan, rank: Callable[[str], list[Ranked]]) -> tuple[list[Ranked], str, str]:
    """(ranking, the query it ranked, the notice to show) for a plan and a retriever's `rank(query)`."""
    ranking = rank(plan.query)
    if ranking or plan.fallback is None:
        return ranking, plan.query, plan.notice if ranking else ""
    ranking = rank(plan.fallback)
    return ranking, plan.fallback, plan.fallback_notice if ranking else ""

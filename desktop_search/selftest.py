"""`desktop-search --self-test`: index the shipped sample folder in a temporary store and check each retriever."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from .resources import resource

# (query, retriever, expected first file): dense queries share no key word with their file
CHECKS = [
    ("patch the inner tube puncture", "bm25", "bicycle-repair.txt"),
    ("what happens when a star dies and light cannot get out", "dense", "black-holes.txt"),
    ("keeping a bread culture alive", "hybrid", "sourdough.md"),
    ("find an element in an ordered array", "dense", "binary-search.py"),
]
# (query, expected first file by BM25, where its passage is): one file of each document kind the
# bundle must read (made by packaging/make_format_samples.py), so a reader left out of the
# frozen app fails here
FORMAT_CHECKS = [
    ("okapi sightings pangolin", "zebra-migration.pptx", "slide 2"),
    ("pelican food cartographer", "expedition-budget.xlsx", None),
    ("trim the wick polish the lens", "lighthouse-duties.odt", None),
    ("Brest high water Marguerite", "tide-table.ods", None),
    ("narwhals walruses slide", "narwhal-talk.odp", None),
    ("croissant café", "cafe-menu.rtf", None),
    ("compass fjord glacier", "the-cartographer.epub", None),
    ("engine weaves algebraic patterns", "analytical-engine.eml", None),
    ("Bernoulli numbers note G", "babbage-letters.mbox", "message 1"),
    ("Kepler orbits polyfit", "orbit-fitting.ipynb", None),
    ("sow radishes carrots", "garden-plan.org", None),
    ("bats echolocation moths", "night-animals.pdf", "page 2"),
]


def run_self_test(data_dir: str | None = None, out=sys.stdout) -> int:
    from .jobs import run_job
    from .errors import KnownError
    from .service import SearchService

    sample = resource("sample")
    if not sample.is_dir():
        print(f"SELF-TEST FAILED: the sample folder {sample} is missing", file=out)
        return 1
    work = Path(tempfile.mkdtemp(prefix="ds-selftest-"))
    t0 = time.perf_counter()
    failures = []
    try:
        # copy so the sample files are only read; the store lives in the temporary folder
        docs = work / "sample"
        shutil.copytree(sample, docs)
        with SearchService(work / "store") as svc:
            last = run_job(svc.index([docs]), bar=False)
            print(f"indexed {last.stats.get('indexed')} files, {last.stats.get('chunks')} passages "
                  f"with {svc.encoder.name}", file=out)
            for query, retriever, expected in CHECKS:
                hits = svc.search(query, retriever, k=3)
                top = hits[0].name if hits else None
                ok = top == expected
                print(f"  {'ok  ' if ok else 'FAIL'} {retriever:6} {query!r} -> {top}", file=out)
                if not ok:
                    failures.append(f"{retriever} search for {query!r} put {top} first, expected {expected}")
            for query, expected, section in FORMAT_CHECKS:
                hits = svc.search(query, "bm25", k=3)
                top, where = (hits[0].name, hits[0].section) if hits else (None, "")
                ok = top == expected and (section is None or where == section)
                print(f"  {'ok  ' if ok else 'FAIL'} {'bm25':6} {query!r} -> {top}" + (f" ({where})" if where else ""),
                      file=out)
                if not ok:
                    failures.append(f"bm25 search for {query!r} put {top} ({where or 'no section'}) first, "
                                    f"expected {expected}" + (f" ({section})" if section else ""))
    except KnownError as e:
        failures.append(str(e))
    except Exception as e:  # noqa: BLE001 - the self-test reports everything
        failures.append(f"{type(e).__name__}: {e}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("SELF-TEST FAILED: " + "; ".join(failures), file=out)
        return 1
    print(f"SELF-TEST PASSED in {time.perf_counter() - t0:.1f} s", file=out)
    return 0

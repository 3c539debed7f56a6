"""PDF text extraction, pages per second: PDFium (pypdfium2, what the app uses) against pypdf (its
fallback, and what it used before), on the same real multi-page PDFs in one run.

The PDFs are the manuals Debian packages install under /usr/share/doc (libtasn1, shared-mime-info,
zlib, nettle, fontconfig, valgrind, bzip2; the .pdf.gz ones are inflated in memory), or the files
given on the command line. Each reader runs on the bytes in memory (no disk time), through the
same functions the extractor calls (documents/formats/pdf.py), best of --repeat runs a file.

    python benchmarks/pdf_extract.py [--repeat 2] [FILE.pdf ...]
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import emit  # noqa: E402

from desktop_search.documents.formats.pdf import pdfium_pages, pypdf_pages  # noqa: E402

DEBIAN_PDFS = [
    "/usr/share/doc/libtasn1-doc/libtasn1.pdf",
    "/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf",
    "/usr/share/doc/zlib1g-dev/crc-doc.1.0.pdf.gz",
    "/usr/share/doc/nettle-dev/nettle.pdf.gz",
    "/usr/share/doc/fontconfig/fontconfig-user.pdf.gz",
    "/usr/share/doc/valgrind/valgrind_manual.pdf.gz",
    "/usr/share/doc/bzip2/manual.pdf.gz",
]
NO_LIMIT = 10**12


def load(path: str) -> bytes:
    data = Path(path).read_bytes()
    return gzip.decompress(data) if path.endswith(".gz") else data


def best_time(reader, data: bytes, repeat: int) -> tuple[float, int, int]:
    """(seconds, pages, characters) of the fastest of `repeat` runs."""
    best = float("inf")
    pages: list[str] = []
    for _ in range(repeat):
        t = time.perf_counter()
        pages, _title, _count = reader(data, NO_LIMIT)
        best = min(best, time.perf_counter() - t)
    return best, len(pages), sum(len(p) for p in pages)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", help="PDF files (default: the Debian manuals listed in the source)")
    ap.add_argument("--repeat", type=int, default=2, help="runs per file and reader; the fastest counts")
    args = ap.parse_args()
    paths = args.files or [p for p in DEBIAN_PDFS if Path(p).exists()]
    if not paths:
        sys.exit("no PDFs found: pass some on the command line")
    rows = []
    totals = {"pdfium": [0.0, 0], "pypdf": [0.0, 0]}
    for path in paths:
        data = load(path)
        row = {"file": path, "bytes": len(data)}
        for name, reader in (("pdfium", pdfium_pages), ("pypdf", pypdf_pages)):
            seconds, pages, chars = best_time(reader, data, args.repeat)
            row[name] = {"s": round(seconds, 3), "pages": pages, "chars": chars,
                         "pages_per_s": round(pages / seconds, 1) if seconds else None}
            totals[name][0] += seconds
            totals[name][1] += pages
        row["speedup"] = round(row["pypdf"]["s"] / row["pdfium"]["s"], 2) if row["pdfium"]["s"] else None
        rows.append(row)
        print(f"{Path(path).name}: {row['pdfium']['pages']} pages, PDFium {row['pdfium']['pages_per_s']} pages/s, "
              f"pypdf {row['pypdf']['pages_per_s']} pages/s ({row['speedup']}x)", file=sys.stderr)
    summary = {name: {"s": round(s, 3), "pages": n, "pages_per_s": round(n / s, 1) if s else None}
               for name, (s, n) in totals.items()}
    summary["speedup"] = round(totals["pypdf"][0] / totals["pdfium"][0], 2) if totals["pdfium"][0] else None
    emit({"benchmark": "pdf_extract", "repeat": args.repeat, "files": rows, "total": summary})


if __name__ == "__main__":
    main()

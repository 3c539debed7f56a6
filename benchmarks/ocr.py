"""OCR speed and accuracy on rendered pages of known text, in one run: characters per second,
seconds per page and character error rate (CER: edit distance / length of the true text, after
collapsing whitespace), through the function the extractor calls (documents/formats/ocr.py).

The pages are made here: paragraphs of plain English (the module docstrings of this repository's
document readers, so the text is fixed and real) set in Helvetica by fpdf2 on A4 pages, rasterised
by PDFium at the resolution the extractor uses for scanned PDFs (RENDER_DPI), the way a scanner
hands over a page (no noise added: a clean scan; real scans do worse).

    python benchmarks/ocr.py [--pages 3]
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import emit  # noqa: E402


def page_texts(n: int) -> list[str]:
    """`n` pages of about 1,200 characters each, from the readers' docstrings."""
    words: list[str] = []
    for path in sorted((ROOT / "desktop_search" / "documents" / "formats").glob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text("utf-8"))) or ""
        words += doc.replace("`", "").replace("\\", "").split()
    words = [w for w in words if w.isascii()]
    pages, i = [], 0
    for _ in range(n):
        chunk: list[str] = []
        while sum(len(w) + 1 for w in chunk) < 1200:
            chunk.append(words[i % len(words)])
            i += 1
        pages.append(" ".join(chunk))
    return pages


def render(texts: list[str], dpi: int):
    import numpy as np
    import pypdfium2 as pdfium
    from fpdf import FPDF

    pdf = FPDF()
    for text in texts:
        pdf.add_page()
        pdf.set_font("helvetica", size=11)
        pdf.multi_cell(w=0, text=text)
    doc = pdfium.PdfDocument(bytes(pdf.output()))
    try:
        return [np.asarray(doc[i].render(scale=dpi / 72).to_pil().convert("RGB")) for i in range(len(doc))]
    finally:
        doc.close()


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=3)
    args = ap.parse_args()
    from desktop_search.documents.formats import ocr

    if not ocr.available():
        sys.exit("OCR is not installed: pip install -e '.[ocr]'")
    texts = page_texts(args.pages)
    images = render(texts, ocr.RENDER_DPI)
    t = time.perf_counter()
    ocr.ocr_array(images[0][:64, :64])  # load the engine (once per extraction child)
    load_s = time.perf_counter() - t
    rows = []
    for truth, image in zip(texts, images):
        t = time.perf_counter()
        got = ocr.ocr_array(image)
        seconds = time.perf_counter() - t
        a, b = " ".join(truth.split()), " ".join(got.split())
        rows.append({"s": round(seconds, 2), "chars": len(b), "chars_per_s": round(len(b) / seconds, 1),
                     "cer": round(edit_distance(a, b) / len(a), 4), "pixels": list(image.shape[:2])})
        print(f"page {len(rows)}: {seconds:.1f} s, CER {rows[-1]['cer']:.3f}", file=sys.stderr)
    total_s = sum(r["s"] for r in rows)
    emit({"benchmark": "ocr", "dpi": ocr.RENDER_DPI, "engine_load_s": round(load_s, 2), "pages": rows,
          "total": {"s_per_page": round(total_s / len(rows), 2),
                    "chars_per_s": round(sum(r["chars"] for r in rows) / total_s, 1),
                    "cer": round(sum(r["cer"] for r in rows) / len(rows), 4)}})


if __name__ == "__main__":
    main()

"""OCR of scanned pages and images with RapidOCR (ONNX Runtime; its detection and recognition models
ship inside the rapidocr-onnxruntime package, nothing is downloaded). Optional: without the package
(the `ocr` extra) images are skipped with a reason saying so, and scanned PDFs stay "no text layer".

It runs in the extraction child like every reader, under the same time and memory caps; the engine
is loaded once per child (about a second) and kept. OCR of one file stops after OCR_BUDGET_S so a long
scanned PDF is indexed in part rather than timed out; what it cost is reported in the file's status.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import Any

from ..base import ExtractionFailed, SkipFile, short

OCR_BUDGET_S = 40.0  # per file, below the child's default 60 s timeout
RENDER_DPI = 150  # scanned PDF pages; enough for body text, about half the pixels of 200 dpi
MAX_IMAGE_PIXELS = 40_000_000  # larger images are shrunk first (a 40 MP photo is not a page of text)

_engine: Any = None


@dataclass
class OcrCost:
    """What OCR of one file took: pages (or images) read, seconds, characters found."""

    pages: int = 0
    seconds: float = 0.0
    chars: int = 0
    stopped: bool = False  # the budget ran out before every page was read

    def describe(self) -> str:
        what = f"{self.pages} page{'s' if self.pages != 1 else ''}"
        text = f"text read by OCR ({what}, {self.seconds:.1f} s)"
        return text + ("; later pages not read (OCR time limit)" if self.stopped else "")


def available() -> bool:
    """Whether the OCR package is installed."""
    try:
        import rapidocr_onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _get_engine() -> Any:
    global _engine
    if _engine is None:
        from rapidocr_onnxruntime import RapidOCR

        # one line a recognition batch: batches pad lines to the widest, and scored worse here
        _engine = RapidOCR(rec_batch_num=1)
    return _engine


def ocr_array(pixels: Any) -> str:
    """Text of an RGB image (numpy array), in reading order: boxes grouped into lines, lines top down."""
    # no angle classifier: on upright pages it turned about half the lines upside down (CER 0.49 with
    # it, 0.05 without, benchmarks/ocr.py); scans come upright, or are rotated whole by the scanner
    result, _elapsed = _get_engine()(pixels, use_cls=False)
    if not result:
        return ""
    boxes = []
    for points, text, _score in result:
        ys = [p[1] for p in points]
        xs = [p[0] for p in points]
        boxes.append((min(ys), max(ys), min(xs), text))
    boxes.sort()
    lines: list[list[tuple[float, str]]] = []
    bottom = None
    for top, low, left, text in boxes:
        if lines and bottom is not None and top < bottom - (low - top) / 2:  # overlaps the current line
            lines[-1].append((left, text))
            bottom = max(bottom, low)
        else:
            lines.append([(left, text)])
            bottom = low
    return "\n".join(" ".join(t for _x, t in sorted(line)) for line in lines)


def extract_image(data: bytes, max_chars: int) -> tuple[str, str | None, OcrCost]:
    """Text of a picture (.png, .jpg, .tiff: every frame of a multi-page TIFF)."""
    if not available():
        raise SkipFile("image: OCR is not installed (pip install 'desktop-search[ocr]')")
    import numpy as np
    from PIL import Image, ImageSequence, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS * 4  # refuse decompression bombs beyond this
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise ExtractionFailed(short(f"not a valid image: {err}")) from None
    cost = OcrCost()
    t0 = time.perf_counter()
    texts = []
    for frame in ImageSequence.Iterator(image):
        if time.perf_counter() - t0 > OCR_BUDGET_S:
            cost.stopped = True
            break
        rgb = frame.convert("RGB")
        if rgb.width * rgb.height > MAX_IMAGE_PIXELS:
            scale = (MAX_IMAGE_PIXELS / (rgb.width * rgb.height)) ** 0.5
            rgb = rgb.resize((max(1, int(rgb.width * scale)), max(1, int(rgb.height * scale))))
        texts.append(ocr_array(np.asarray(rgb)))
        cost.pages += 1
        if sum(len(t) for t in texts) > max_chars:
            break
    cost.seconds = time.perf_counter() - t0
    cost.chars = sum(len(t) for t in texts)
    if not any(t.strip() for t in texts):
        raise SkipFile(f"image: no text found by OCR ({cost.seconds:.1f} s)")
    return "\n\n".join(texts), None, cost


def ocr_pdf_pages(data: bytes, page_numbers: list[int],
                  budget_s: float = OCR_BUDGET_S) -> tuple[dict[int, str], OcrCost]:
    """OCR of some pages of a PDF (0-based numbers) that hold a picture, rendered by PDFium, until the
    budget runs out (a page without any image, like a blank separator page, costs nothing)."""
    import numpy as np
    import pypdfium2 as pdfium

    cost = OcrCost()
    out: dict[int, str] = {}
    t0 = time.perf_counter()
    pdf = pdfium.PdfDocument(data)
    try:
        for index in page_numbers:
            if time.perf_counter() - t0 > budget_s:
                cost.stopped = True
                break
            page = pdf[index]
            try:
                if next(page.get_objects(filter=[pdfium.raw.FPDF_PAGEOBJ_IMAGE], max_depth=3), None) is None:
                    continue  # a blank page, or vector drawing only: nothing a scanner made
                bitmap = page.render(scale=RENDER_DPI / 72)
                pixels = np.asarray(bitmap.to_pil().convert("RGB"))
            finally:
                page.close()
            out[index] = ocr_array(pixels)
            cost.pages += 1
    finally:
        pdf.close()
    cost.seconds = time.perf_counter() - t0
    cost.chars = sum(len(t) for t in out.values())
    return out, cost

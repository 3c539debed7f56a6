"""Write one file of each document kind beyond plain text into resources/sample/ (the self-test's
folder, desktop_search/selftest.py FORMAT_CHECKS), each made by its format's own writer library
(tests/format_writers.py). Run again after changing a writer; the files are committed.

    python packaging/make_format_samples.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import format_writers as w  # noqa: E402

SAMPLES = {
    "zebra-migration.pptx": w.make_pptx,
    "expedition-budget.xlsx": w.make_xlsx,
    "lighthouse-duties.odt": w.make_odt,
    "tide-table.ods": w.make_ods,
    "narwhal-talk.odp": w.make_odp,
    "cafe-menu.rtf": w.make_rtf,
    "the-cartographer.epub": w.make_epub,
    "analytical-engine.eml": w.make_eml,
    "babbage-letters.mbox": w.make_mbox,
    "orbit-fitting.ipynb": w.make_ipynb,
    "night-animals.pdf": lambda p: w.make_pdf(p, ["Owls hunt mice at dusk over the meadow.",
                                                  "Bats find moths by echolocation in the dark."],
                                              title="Night animals"),
}


def main() -> None:
    sample = ROOT / "resources" / "sample"
    for name, make in SAMPLES.items():
        path = sample / name
        path.unlink(missing_ok=True)  # mailbox.mbox appends to an existing file
        make(path)
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size} bytes")
    (sample / "garden-plan.org").write_text(
        "#+TITLE: Garden plan\n* Beds\n- sow radishes in March\n- thin the carrots in May\n", encoding="utf-8")


if __name__ == "__main__":
    main()

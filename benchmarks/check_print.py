"""Print the review report to PDF with headless Chromium and check that no table lost a column.

    python benchmarks/check_print.py [REPORT.html] [--pdf OUT.pdf]

Without a report it runs ``faceanalytics demo`` into a temporary directory and checks the
demo's ``report.html``.  Needs Debian's ``chromium`` and ``pdftotext`` (poppler-utils) on the
PATH (``apt-get install -y chromium poppler-utils``); installs nothing itself.

A browser prints what fits the page: a column pushed past the right edge is simply not in
the PDF.  So for every table of the HTML, every column's header and every cell's words are
looked up in the PDF's text (whitespace removed on both sides, as a cell may wrap over
lines).  Prints one line per table (columns, cells found) and exits 1 when any column has a
cell that is not in the PDF.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path


class _Tables(HTMLParser):
    """Every table as (header cells, body rows), cell text as the browser shows it."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: list[tuple[list[str], list[list[str]]]] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._head = False
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self._skip += 1
        elif tag == "table":
            self.tables.append(([], []))
        elif tag == "thead":
            self._head = True
        elif tag == "tbody":
            self._head = False
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self._skip -= 1
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self.tables:
            head, body = self.tables[-1]
            if self._head:
                head.extend(self._row)
            else:
                body.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None and not self._skip:
            self._cell.append(data)


_CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")


def _pieces(cell: str) -> list[str]:
    """A cell's words, split after hyphens and long ones in 6-character pieces (a cell may wrap
    there in print)."""
    out = []
    for word in cell.split():
        for w in re.split(r"(?<=[-/])", word):
            out += [w] if len(w) <= 8 else [w[i:i + 6] for i in range(0, len(w), 6)]
    return [x for x in out if x]


def _cjk_font() -> bool:
    if shutil.which("fc-list") is None:
        return False
    return bool(subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout.strip())


def _squash(text: str) -> str:
    # pdftotext may render a soft hyphen or ligature differently; whitespace is layout
    return re.sub(r"\s+", "", text.replace("\u00ad", "").replace("ﬁ", "fi").replace("ﬂ", "fl"))


def print_pdf(html: Path, pdf: Path) -> None:
    chrome = shutil.which("chromium") or shutil.which("chromium-browser")
    if chrome is None:
        raise SystemExit("chromium not found: apt-get install -y chromium poppler-utils")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chrome, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                        "--no-pdf-header-footer", f"--print-to-pdf={pdf}", html.resolve().as_uri()],
                       check=True, capture_output=True, timeout=180)


def pdf_text(pdf: Path) -> str:
    if shutil.which("pdftotext") is None:
        raise SystemExit("pdftotext not found: apt-get install -y poppler-utils")
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True, capture_output=True,
                          timeout=120).stdout.decode("utf-8")


def check(html: Path, pdf: Path) -> int:
    print_pdf(html, pdf)
    text = _squash(pdf_text(pdf))
    pages = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout if shutil.which("pdfinfo") \
        else ""
    p = _Tables()
    p.feed(html.read_text(encoding="utf-8"))
    missing = 0
    cjk = _cjk_font()
    unchecked = 0

    def present(cell: str) -> bool:
        nonlocal unchecked
        pieces = _pieces(cell)
        if not cjk:
            kept = [x for x in pieces if not _CJK.search(x)]
            unchecked += len(pieces) != len(kept)
            pieces = kept
        return all(_squash(x) in text for x in pieces)

    m = re.search(r"Pages:\s+(\d+)", pages)
    print(f"{html} -> {pdf} ({m.group(1) if m else '?'} pages, {len(p.tables)} tables)")
    for i, (head, body) in enumerate(p.tables, 1):
        ncol = max([len(head), *(len(r) for r in body)] or [0])
        lost_cols = []
        found = total = 0
        for j in range(ncol):
            cells = ([head[j]] if j < len(head) else []) + [r[j] for r in body if j < len(r)]
            bad = [c for c in cells if c and not present(c)]
            total += sum(1 for c in cells if c)
            found += sum(1 for c in cells if c) - len(bad)
            if bad:
                lost_cols.append((j, head[j] if j < len(head) else "", bad[:2]))
        status = "ok" if not lost_cols else "MISSING"
        print(f"  table {i:>2}: {ncol} columns ({', '.join(h or '·' for h in head)}), {found}/{total} cells in "
              f"the PDF: {status}")
        for j, h, bad in lost_cols:
            print(f"      column {j + 1} {h!r}: not in the PDF, e.g. {bad}")
        missing += len(lost_cols)
    if unchecked:
        print(f"  ({unchecked} cell(s) with Chinese text checked without it: no CJK font installed here, "
              "so the PDF shows boxes, e.g. apt-get install fonts-noto-cjk)")
    print("every column of every table is in the PDF" if not missing else f"{missing} column(s) lost in print")
    return 1 if missing else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report", nargs="?", type=Path, help="a report (default: run the demo and use its report)")
    ap.add_argument("--pdf", type=Path, help="where to write the PDF (default: beside the report)")
    a = ap.parse_args(argv)
    if a.report is not None:
        return check(a.report, a.pdf or a.report.with_suffix(".pdf"))
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        subprocess.run([sys.executable, "-m", "faceanalytics", "demo", "--data", str(data)], check=True,
                       capture_output=True, timeout=1200)
        return check(data / "report.html", a.pdf or Path(tmp) / "report.pdf")


if __name__ == "__main__":
    raise SystemExit(main())

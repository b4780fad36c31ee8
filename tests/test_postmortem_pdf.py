"""The PDF a reviewer reads: fast, and laid out as a document (checked on the rendered
pages' word positions, not only on the extracted text)."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from helpers import triaged_example

ROOT = Path(__file__).resolve().parent.parent
RUN_ID = re.compile(r"\d{8}T\d{6}-[0-9a-f]{8}")


@pytest.fixture(scope="module")
def example_pdf(tmp_path_factory):
    """The example incident's postmortem as PDF, its pages' words with their boxes."""
    ex = triaged_example(tmp_path_factory.mktemp("pdf"), 2, "--format", "pdf")
    [pdf] = (ex / "postmortems").glob("*.pdf")
    xml = subprocess.run(
        ["pdftotext", "-bbox-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    return ex, pdf, _pages(xml)


def _pages(xml: str) -> list[list[list[tuple[float, float, float, str, float]]]]:
    """Each page's lines, each line its words as (xMin, xMax, yMin, text, height)."""
    root = ElementTree.fromstring(re.sub(r'\sxmlns="[^"]+"', "", xml, count=1))
    pages = []
    for page in root.iter("page"):
        lines = []
        for line in page.iter("line"):
            words = [
                (
                    float(w.get("xMin")),
                    float(w.get("xMax")),
                    float(w.get("yMin")),
                    w.text or "",
                    float(w.get("yMax")) - float(w.get("yMin")),
                )
                for w in line.iter("word")
            ]
            if words:
                lines.append(words)
        pages.append(lines)
    return pages


def test_the_pdf_renders_within_a_second(example_pdf, tmp_path):
    """Cold, in a fresh process (fpdf2 imported, fonts loaded). The target is 1 s
    (bench/postmortem_pdf.py measures it: 0.6-0.7 s here); this guard allows a busy
    machine half as much again, and fails on a regression."""
    ex, _, _ = example_pdf
    code = (
        "import time; from pathlib import Path\n"
        "from gert.postmortem import build\n"
        "from gert.project import open_project\n"
        "from gert.store import open_store\n"
        "from gert.incident.providers import get_with_timeline\n"
        "p = open_project(); pm = build(open_store(p), '747870160', get_with_timeline(p, '747870160'), {}, None)\n"
        "md = next(Path('postmortems').glob('*.md')).read_text()\n"
        "c = time.process_time()\n"
        "from gert.postmortem import formats\n"
        "formats.to_pdf(pm, md)\n"
        "print(time.process_time() - c)\n"
    )
    # The best of three: a busy machine slows one run, not the rendering.
    seconds = min(
        float(
            subprocess.run(
                [sys.executable, "-c", code], cwd=ex, capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(3)
    )
    assert seconds <= 1.5, f"{seconds:.2f} s"


def test_run_ids_never_break(example_pdf):
    _, _, pages = example_pdf
    words = [w[3] for page in pages for line in page for w in line]
    # A run ID cut at a line's end leaves its start on one line ("20261130T082549-" or
    # "20261130T082549-5eac") and the rest on the next.
    cut = [
        w for w in words if re.search(r"\d{8}T\d{6}(-[0-9a-f]{0,7})?$", w) and not RUN_ID.search(w)
    ]
    assert cut == [], cut[:5]
    assert sum(1 for w in words if RUN_ID.search(w)) >= 4


def test_no_heading_is_left_alone_at_the_bottom_of_a_page(example_pdf):
    ex, _, pages = example_pdf
    [md] = (ex / "postmortems").glob("*.md")
    headings = {
        re.sub(r"^#+ ", "", h).strip() for h in re.findall(r"(?m)^#{2,3} .+$", md.read_text())
    }
    for n, page in enumerate(pages[:-1], start=1):
        last = " ".join(w[3] for w in page[-1]) if page else ""
        assert last not in headings, f"page {n} ends with the heading {last!r}"


def test_table_words_are_not_stretched(example_pdf):
    """A justified line spreads its words by one wide gap repeated between every word;
    left-aligned text keeps one space (a wider gap only where a cell ends). Gaps are
    measured in the words' own height, so headings compare like body text."""
    _, _, pages = example_pdf
    stretched = []
    for page in pages:
        for line in page:
            wide = [
                round((b[0] - a[1]) / a[4], 2)
                for a, b in itertools.pairwise(line)
                if (b[0] - a[1]) > 0.6 * a[4]  # a space is about a third of the height
            ]
            if len(wide) >= 3 and max(wide) - min(wide) <= 0.05:
                stretched.append(" ".join(w[3] for w in line))
    assert stretched == [], stretched[:3]


def test_what_went_well_lines_stay_apart(example_pdf):
    _, _, pages = example_pdf
    lines = [" ".join(w[3] for w in line) for page in pages for line in page]
    marked = [line for line in lines if "ran to its end" in line]
    assert len(marked) >= 2 and all(line.count("ran to its end") == 1 for line in marked)


def test_the_first_page_renders_to_an_image(example_pdf, tmp_path):
    _, pdf, _ = example_pdf
    subprocess.run(
        ["pdftoppm", "-r", "40", "-f", "1", "-l", "1", "-png", str(pdf), str(tmp_path / "p")],
        check=True,
    )
    [png] = tmp_path.glob("p-*.png")
    assert png.stat().st_size > 2000

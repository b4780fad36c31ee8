"""HTML and PDF renderings of a postmortem (``gert postmortem --format html|pdf``).

The Markdown document is the source: a person edits it and regeneration merges into it.
These renderings are made from it, with the run chain drawn above the text: one box per
run (runbook, outcome, run ID) and an arrow for each hand-off. The HTML page is standalone
(inline CSS and SVG, no scripts, nothing fetched); the PDF is drawn with fpdf2 in the DejaVu
fonts, so every character an output can hold renders.

fpdf2 comes with the ``report`` extra; it and markdown-it-py are imported only here.
"""

from __future__ import annotations

import html
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gert.postmortem.draft import RenderError
from gert.util import shorten as _short
from gert.util import write_atomic

if TYPE_CHECKING:
    from gert.postmortem.draft import Postmortem

# Where Debian (fonts-dejavu-core) and other distributions put the DejaVu fonts.
FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
)
BOX_W, BOX_H, GAP, PER_ROW = 210, 66, 44, 4
# Outcome state -> box colour (fill, stroke): escalations stand out, failures more.
COLOURS = {
    "escalated": ("#fff4e5", "#d9822b"),
    "failed": ("#fdecea", "#c23030"),
    "aborted": ("#fdecea", "#c23030"),
    "resolved": ("#e8f5e9", "#2e7d32"),
    "completed": ("#e8f5e9", "#2e7d32"),
}
DEFAULT_COLOUR = ("#eef2f7", "#4a6785")
# The three lines of a box: (field, baseline offset, font size, bold, monospace, max chars).
BOX_LINES = (
    ("runbook", 22, 14, True, False, 26),
    ("state", 40, 13, False, False, 28),
    ("run_id", 57, 10, False, True, 34),
)
CSS = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 62rem; margin: 2rem auto; padding: 0 1rem; color: #1d2125; }
h1 { border-bottom: 2px solid #4a6785; padding-bottom: .3rem; }
h2 { border-bottom: 1px solid #d0d7de; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f5f7; }
pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; font-size: 12px; }
figure { margin: 1rem 0; overflow-x: auto; }
figcaption { font-size: 13px; color: #57606a; }
""".strip()


@dataclass
class ChainBox:
    """One run of the chain, placed on the drawing."""

    x: float
    y: float
    runbook: str
    state: str
    run_id: str
    chain: int = 0  # which chain (attempt) it belongs to


def chain_layout(pm: Postmortem) -> tuple[list[ChainBox], float, float]:
    """Boxes for the runs, each chain starting a row of its own (PER_ROW to a row), and
    the drawing's width and height."""
    boxes = []
    row = 0
    for n, chain in enumerate(pm.chains):
        for k, run in enumerate(chain):
            state = str(run.manifest.outcome.get("state") or run.manifest.status)
            down, col = divmod(k, PER_ROW)
            boxes.append(
                ChainBox(
                    10 + col * (BOX_W + GAP),
                    10 + (row + down) * (BOX_H + GAP),
                    run.runbook,
                    state,
                    run.run_id,
                    n,
                )
            )
        row += (len(chain) + PER_ROW - 1) // PER_ROW
    cols = min(max((len(c) for c in pm.chains), default=0), PER_ROW) or 1
    rows = row or 1
    return boxes, 20 + cols * BOX_W + (cols - 1) * GAP, 20 + rows * BOX_H + (rows - 1) * GAP


def _hand_offs(boxes: list[ChainBox]) -> list[tuple[float, float, float, float]]:
    """One arrow (x1, y1, x2, y2) per hand-off within a chain: side to side, or down when
    the chain wraps; never from one attempt to the next."""
    arrows = []
    for a, b in itertools.pairwise(boxes):
        if a.chain != b.chain:
            continue
        if a.y == b.y:
            arrows.append((a.x + BOX_W, a.y + BOX_H / 2, b.x - 2, b.y + BOX_H / 2))
        else:
            arrows.append((a.x + BOX_W / 2, a.y + BOX_H, b.x + BOX_W / 2, b.y - 2))
    return arrows


def chain_svg(pm: Postmortem) -> str:
    """The run chain as an inline SVG drawing."""
    boxes, width, height = chain_layout(pm)
    e = html.escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="Run chain">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#4a6785"/></marker></defs>',
    ]
    for x1, y1, x2, y2 in _hand_offs(boxes):
        parts.append(
            f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" stroke="#4a6785" '
            'stroke-width="2" marker-end="url(#arrow)"/>'
        )
    for box in boxes:
        fill, stroke = COLOURS.get(box.state, DEFAULT_COLOUR)
        parts.append(
            f'<g><rect x="{box.x:.0f}" y="{box.y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="8" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="2"/>'
        )
        weight = 'font-weight="bold" '
        for name, dy, size, bold, mono, limit in BOX_LINES:
            colour = stroke if name == "state" else "#57606a" if mono else "#1d2125"
            parts.append(
                f'<text x="{box.x + 10:.0f}" y="{box.y + dy:.0f}" '
                f'font-family="{"monospace" if mono else "sans-serif"}" font-size="{size}" '
                f'{weight if bold else ""}fill="{colour}">'
                f"{e(_short(getattr(box, name), limit))}</text>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def body_html(markdown: str) -> str:
    """A postmortem's Markdown as HTML that can hold no markup of its own."""
    from markdown_it import MarkdownIt

    # js-default: tables on, raw HTML off, so a step output can never inject markup.
    # Images off: an image in an output, a title or an answer would be fetched by a
    # browser (a remote URL) or embedded by the PDF (a local file); it stays text.
    return MarkdownIt("js-default").disable("image").render(markdown)


_CELL = re.compile(r"(<t[dh](?:\s[^>]*)?>)(.*?)(</t[dh]>)", re.S)
_TAG = re.compile(r"<[^>]+>")


def _flat_cells(body: str) -> str:
    """Table cells as plain text, left-aligned: the PDF renderer takes no markup inside a
    cell (a link from an output would otherwise stop the whole rendering), and justifies
    cells unless told otherwise."""

    def cell(m: re.Match[str]) -> str:
        opening = m.group(1)
        if "align=" not in opening:
            opening = opening[:-1] + ' align="left">'
        return opening + _TAG.sub("", m.group(2)) + m.group(3)

    return _sized_columns(_CELL.sub(cell, body))


# Column widths (percent) of the document's tables, by their header: a run ID or a step
# file must fit its column whole (a narrow column cuts it mid-token).
COLUMN_WIDTHS = {
    ("Time", "Event", "Actor", "Evidence", "Kind"): (8, 33, 12, 39, 8),
    ("ID", "Action", "Type", "Owner", "Priority", "Due Date", "Status"): (8, 42, 9, 13, 10, 10, 8),
}
_HEADER_ROW = re.compile(r"<thead>\s*<tr>(.*?)</tr>", re.S)
_TH = re.compile(r"<th([^>]*)>(.*?)</th>", re.S)


def _sized_columns(body: str) -> str:
    def row(m: re.Match[str]) -> str:
        cells = _TH.findall(m.group(1))
        widths = COLUMN_WIDTHS.get(tuple(_TAG.sub("", text).strip() for _, text in cells))
        if widths is None:
            return m.group(0)
        sized = "".join(
            f'<th{attrs} width="{w}%">{text}</th>'
            for (attrs, text), w in zip(cells, widths, strict=True)
        )
        return m.group(0).replace(m.group(1), sized)

    return _HEADER_ROW.sub(row, body)


def _only_heading(piece: str) -> bool:
    """A piece of HTML that is a heading and nothing after it."""
    return bool(re.fullmatch(r"\s*<h[1-6][^>]*>.*?</h[1-6]>\s*", piece, re.S))


# Where the body may break into pieces that start with a heading (kept with its text).
_HEADING = re.compile(r"(?=<h[1-3][ >])")
KEEP_WITH_HEADING = 30.0  # mm: a heading needs this much room below it, else a new page


def to_html(pm: Postmortem, markdown: str) -> str:
    """A readable standalone HTML page: the run chain drawn, then the document."""
    title = html.escape(pm.incident.get("title") or f"Incident {pm.incident_id}")
    figure = (
        f"<figure>{chain_svg(pm)}<figcaption>Run chain of incident "
        f"{html.escape(pm.incident_id)}: each box is a run, each arrow a hand-off.</figcaption></figure>"
        if pm.runs
        else ""
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        # Belt and braces: even a link or style could not make the page fetch anything.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">\n"
        f"<title>Post-Mortem: {title}</title>\n<style>\n{CSS}\n</style>\n</head>\n<body>\n"
        f"{figure}\n{body_html(markdown)}</body>\n</html>\n"
    )


def _font_dir() -> Path:
    for folder in FONT_DIRS:
        if (folder / "DejaVuSans.ttf").is_file():
            return folder
    raise RenderError(
        "PDF rendering needs the DejaVu fonts (Debian/Ubuntu: apt install fonts-dejavu-core); "
        f"looked in {', '.join(str(d) for d in FONT_DIRS)}"
    )


def to_pdf(pm: Postmortem, markdown: str) -> bytes:
    """The document as PDF: the run chain drawn on the first page, then the text."""
    try:
        from fpdf import FPDF
        from fpdf.fonts import TextStyle
    except ImportError:  # pragma: no cover - the report extra is part of every test install
        raise RenderError(
            "PDF rendering needs the report extra: pip install 'gert[report]'"
        ) from None
    fonts = _font_dir()
    pdf = FPDF(format="A4")
    pdf.set_title(f"Post-Mortem: {pm.incident.get('title') or pm.incident_id}")
    pdf.set_creator("gert")
    # DejaVu Sans has no colour emoji; use its own check and cross marks.
    text = markdown.replace("✅", "✔").replace("❌", "✘")
    body = _flat_cells(body_html(text))
    # Each font file costs a parse: only the faces the document uses are loaded.
    faces = [("", "DejaVuSans"), ("B", "DejaVuSans-Bold")]
    if "<em>" in body:
        faces.append(("I", "DejaVuSans-Oblique"))
        if "<strong>" in body:
            faces.append(("BI", "DejaVuSans-BoldOblique"))
    for style, name in faces:
        pdf.add_font("dejavu", style, str(fonts / f"{name}.ttf"))
    pdf.add_font("dejavumono", "", str(fonts / "DejaVuSansMono.ttf"))
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    if pm.runs:
        _draw_chain(pdf, pm)
    pdf.set_font("dejavu", size=9)
    mono = TextStyle(font_family="dejavumono", font_size_pt=8)
    pieces: list[str] = []
    for piece in _HEADING.split(body):
        if pieces and _only_heading(pieces[-1]):
            pieces[-1] += piece  # a heading followed at once by another: they go together
        else:
            pieces.append(piece)
    for piece in pieces:
        # A heading near the bottom of a page starts the next one, with its text.
        if piece.startswith("<h") and pdf.get_y() > pdf.h - pdf.b_margin - KEEP_WITH_HEADING:
            pdf.add_page()
        if piece.strip():
            pdf.write_html(piece, font_family="dejavu", tag_styles={"pre": mono, "code": mono})
    return bytes(pdf.output())


def _draw_chain(pdf: object, pm: Postmortem) -> None:
    boxes, width, height = chain_layout(pm)
    usable = pdf.epw  # type: ignore[attr-defined]
    scale = min(usable / width, 0.5)  # drawing units -> mm
    left, top = pdf.l_margin, pdf.get_y()  # type: ignore[attr-defined]

    def at(x: float, y: float) -> tuple[float, float]:
        return left + x * scale, top + y * scale

    pdf.set_draw_color(74, 103, 133)  # type: ignore[attr-defined]
    pdf.set_line_width(0.5)  # type: ignore[attr-defined]
    for ax, ay, bx, by in _hand_offs(boxes):
        (x1, y1), (x2, y2) = at(ax, ay), at(bx, by)
        pdf.line(x1, y1, x2, y2)  # type: ignore[attr-defined]
        pdf.set_fill_color(74, 103, 133)  # type: ignore[attr-defined]
        pdf.polygon(_arrow_head(x1, y1, x2, y2), style="F")  # type: ignore[attr-defined]
    for box in boxes:
        fill, stroke = COLOURS.get(box.state, DEFAULT_COLOUR)
        x, y = at(box.x, box.y)
        pdf.set_fill_color(*_rgb(fill))  # type: ignore[attr-defined]
        pdf.set_draw_color(*_rgb(stroke))  # type: ignore[attr-defined]
        pdf.rect(x, y, BOX_W * scale, BOX_H * scale, style="DF", round_corners=True)  # type: ignore[attr-defined]
        for name, dy, size, bold, mono, limit in BOX_LINES:
            # Drawing units are scaled to mm; font sizes are in points (1 mm = 2.835 pt).
            pdf.set_font(
                "dejavumono" if mono else "dejavu", "B" if bold else "", size * scale * 2.835
            )  # type: ignore[attr-defined]
            pdf.text(x + 10 * scale, y + dy * scale, _short(getattr(box, name), limit))  # type: ignore[attr-defined]
    pdf.set_y(top + height * scale + 4)  # type: ignore[attr-defined]


def _arrow_head(x1: float, y1: float, x2: float, y2: float) -> list[tuple[float, float]]:
    import math

    angle, size = math.atan2(y2 - y1, x2 - x1), 2.2
    return [
        (x2, y2),
        (x2 - size * math.cos(angle - 0.4), y2 - size * math.sin(angle - 0.4)),
        (x2 - size * math.cos(angle + 0.4), y2 - size * math.sin(angle + 0.4)),
    ]


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def write_renderings(pm: Postmortem, md_path: Path, formats: tuple[str, ...]) -> list[Path]:
    """Render the written Markdown (with what a person kept in it) as HTML and/or PDF."""
    wanted = [f for f in dict.fromkeys(formats) if f != "md"]
    if not wanted:
        return []
    text = md_path.read_text(encoding="utf-8")
    written = []
    for fmt in wanted:
        target = md_path.with_suffix(f".{fmt}")
        if fmt == "html":
            write_atomic(target, to_html(pm, text))
        else:
            tmp = target.with_suffix(".pdf.tmp")
            tmp.write_bytes(to_pdf(pm, text))
            tmp.replace(target)
        written.append(target)
    return written

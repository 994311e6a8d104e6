"""Markdown to PDF, for ``pdf_tool`` (``executors/pdf_tool.py``).

markdown-it-py turns the markdown (CommonMark plus tables) into HTML and fpdf2 lays that
HTML out (headings, paragraphs, emphasis, lists, tables, code, block quotes). Both are
pure Python and maintained, need no browser or system library, and fpdf2 embeds the
font subset it uses. Both are imported on first use: they are the ``pdf`` extra.

Text is set in DejaVu Sans when the server has it (a font directory from
``AGENTSPAN_PDF_FONT_DIR`` or the usual system ones), which covers most scripts; without
it the PDF's built-in Helvetica is used, which has Latin-1 only: other characters are
shown as ``?`` (the result says so, in ``warnings``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PAGE_MM = {
    "A3": (297.0, 420.0),
    "A4": (210.0, 297.0),
    "A5": (148.0, 210.0),
    "Letter": (215.9, 279.4),
    "Legal": (215.9, 355.6),
}
"""Portrait sizes in millimetres (given to fpdf2 as numbers: its named A5 warns)."""
PAGE_SIZES = tuple(PAGE_MM)
THEMES = ("default",)
FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/TTF",
    "/Library/Fonts",
)
_FACES = {
    "": "DejaVuSans.ttf",
    "B": "DejaVuSans-Bold.ttf",
    "I": "DejaVuSans-Oblique.ttf",
    "BI": "DejaVuSans-BoldOblique.ttf",
}
_ASCII = str.maketrans(
    {
        "\u2014": "-",
        "\u2013": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2026": "...",
    }
)


class PdfUnavailable(Exception):
    """fpdf2 or markdown-it-py is not installed on the server."""


@dataclass(slots=True)
class Rendered:
    data: bytes
    pages: int
    warnings: list[str] = field(default_factory=list)


def unicode_font_dir(configured: str | None = None) -> Path | None:
    """Where DejaVu Sans is, if anywhere (``configured`` first)."""
    for candidate in (configured, os.environ.get("AGENTSPAN_PDF_FONT_DIR"), *FONT_DIRS):
        if candidate and (Path(candidate) / _FACES[""]).is_file():
            return Path(candidate)
    return None


def render(markdown: str, *, page_size: str, base_font_size: float, font_dir: Path | None) -> Rendered:
    """The PDF of ``markdown`` (CPU-bound: run it in a thread)."""
    try:
        from fpdf import FPDF
        from markdown_it import MarkdownIt
    except ImportError:
        raise PdfUnavailable("pdf_tool needs fpdf2 on the server: pip install 'agentspan[pdf]'") from None
    warnings: list[str] = []
    pdf = FPDF(unit="mm", format=PAGE_MM[page_size])
    family = "helvetica"
    if font_dir is not None:
        family = "dejavu"
        for style, file in _FACES.items():
            face = font_dir / file
            pdf.add_font(family, style, str(face if face.is_file() else font_dir / _FACES[""]))
    else:
        plain = markdown.translate(_ASCII)
        if any(ord(ch) > 255 for ch in plain):
            warnings.append("characters outside Latin-1 are shown as '?' (no Unicode font on the server)")
        markdown = plain.encode("latin-1", "replace").decode("latin-1")
    pdf.set_font(family, size=base_font_size)
    pdf.add_page()
    html = MarkdownIt("commonmark").enable("table").render(markdown)
    options: dict[str, Any] = {"font_family": family}
    pdf.write_html(html, **options)
    return Rendered(bytes(pdf.output()), pdf.pages_count, warnings)

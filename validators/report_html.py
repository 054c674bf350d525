"""One self-contained HTML page from a report's Markdown (the audit's report.md, a sweep report).

The page is rendered from the very Markdown the report writes, so Markdown, JSON and HTML tell
the same numbers. It stands alone: every local image it links is inlined as a ``data:`` URI
(a missing one is an error naming it, never a broken page), the CSS is inline, there is no
script, font or remote resource, and a Content-Security-Policy forbids the browser to fetch
anything. Its results come from REAL data, so the `notice.BANNER` sits at the top of the page
and, through a fixed header, at the top of every printed page.

Table cells holding only a status word (pass / warn / fail / n/a, in any case, bold or not)
become coloured badges; cells that start with a number are right-aligned. Headings get the
anchors GitHub gives them, so a Markdown link such as ``[fairness](#subgroups-by-sex)`` works.
"""

from __future__ import annotations

import base64
import html
import mimetypes
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token

from dpsynth.errors import DpsynthError
from dpsynth.validators.notice import BANNER, NOTICE

STATUS_WORDS = {"pass": "pass", "warn": "warn", "fail": "fail", "n/a": "na"}  # word -> CSS suffix
#: A number (optional exponent or %) with an optional [interval] or (note); several joined by " / ".
_ONE_NUMBER = r"[−+\-]?(\d[\d,]*(\.\d*)?|\.\d+)(e[−+\-]?\d+)?%?(\s*(\[[^\]]*\]|\([^)]*\)))?"
NUMBER = re.compile(rf"{_ONE_NUMBER}(\s*/\s*{_ONE_NUMBER})*", re.IGNORECASE)

MISSING_IMAGE = ("the report links the image '{src}' but {path} does not exist; write the report and its "
                 "plots/ folder again, or remove the link")
NOT_AN_IMAGE = "the report links '{src}' as an image, but {path} is not a PNG, JPEG, GIF or SVG file"
REMOTE_IMAGE = ("the report links the remote image '{src}'; the HTML page must stand alone, so link a local "
                "file (it is inlined) instead")


class ReportPageError(DpsynthError, ValueError):
    """The Markdown links an image the page cannot inline."""


def markdown_page(markdown_text: str, *, base_dir: Path, title: str) -> str:
    """The HTML page of ``markdown_text`` (CommonMark with tables): images linked relative to
    ``base_dir`` inlined, the not-for-release banner on screen and on each printed page,
    ``title`` as the page's title. A missing or remote image is a `ReportPageError`."""
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")  # raw HTML is shown as text
    tokens = parser.parse(markdown_text)
    inline_images(tokens, Path(base_dir))
    style_cells(tokens)
    add_heading_ids(tokens)
    body = parser.renderer.render(tokens, parser.options, {})
    return PAGE.format(title=html.escape(title), css=CSS, banner=html.escape(BANNER), notice=html.escape(NOTICE),
                       body=body)


def inline_images(tokens: list[Token], base_dir: Path) -> None:
    """Replace each image's ``src`` by a ``data:`` URI of the file it names under ``base_dir``."""
    for token in _inline_children(tokens):
        if token.type == "image":
            token.attrSet("src", data_uri(str(token.attrGet("src") or ""), base_dir))


def data_uri(src: str, base_dir: Path) -> str:
    """``src`` as a ``data:<type>;base64,...`` URI (kept when it already is one)."""
    parts = urlsplit(src)
    if parts.scheme == "data":
        return src
    if parts.scheme or parts.netloc:
        raise ReportPageError(REMOTE_IMAGE.format(src=src))
    path = base_dir / unquote(parts.path)
    if not path.is_file():
        raise ReportPageError(MISSING_IMAGE.format(src=src, path=path))
    kind, _ = mimetypes.guess_type(path.name)
    if kind not in ("image/png", "image/jpeg", "image/gif", "image/svg+xml"):
        raise ReportPageError(NOT_AN_IMAGE.format(src=src, path=path))
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def style_cells(tokens: list[Token]) -> None:
    """Badge the table cells holding only a status word; right-align those starting with a number."""
    for opening, inline in zip(tokens, tokens[1:]):
        if opening.type != "td_open" or inline.type != "inline":
            continue
        text = inline.content.strip()
        word = text.strip("*_ ").lower()
        if word in STATUS_WORDS:
            badge = f'<span class="badge badge-{STATUS_WORDS[word]}">{html.escape(word.upper())}</span>'
            inline.children = [Token("html_inline", "", 0, content=badge)]
            opening.attrJoin("class", "status")
        elif NUMBER.fullmatch(text):
            opening.attrJoin("class", "num")


def heading_id(text: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def add_heading_ids(tokens: list[Token]) -> None:
    """Give every heading its GitHub anchor as ``id`` (a repeated one gets ``-1``, ``-2``, ...)."""
    seen: dict[str, int] = {}
    for opening, inline in zip(tokens, tokens[1:]):
        if opening.type == "heading_open":
            base = heading_id(inline.content)
            count = seen.get(base, 0)
            seen[base] = count + 1
            opening.attrSet("id", f"{base}-{count}" if count else base)


def _inline_children(tokens: list[Token]):
    for token in tokens:
        yield from token.children or ()


CSS = """
:root { color-scheme: light; --alert: #b00020; --ink: #1f2328; --muted: #59636e; --rule: #d0d7de; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.5;
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.banner { position: sticky; top: 0; z-index: 10; background: var(--alert); color: #fff;
          padding: .45rem 1rem; text-align: center; border-bottom: 3px solid #6d0014; }
.banner strong { display: block; font-size: 1rem; letter-spacing: .04em; }
.banner span { display: block; font-size: .8rem; opacity: .95; }
table.page { width: 100%; border-collapse: collapse; }
table.page > thead > tr > td, table.page > tbody > tr > td { padding: 0; border: 0; }
.print-spacer { display: none; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
h1, h2, h3 { line-height: 1.25; margin: 1.6em 0 .6em; }
h1 { font-size: 1.7rem; border-bottom: 1px solid var(--rule); padding-bottom: .3em; }
h2 { font-size: 1.3rem; border-bottom: 1px solid var(--rule); padding-bottom: .25em; }
h3 { font-size: 1.1rem; }
a { color: #0550ae; }
blockquote { margin: 1em 0; padding: .5em 1em; border-left: 4px solid var(--alert); background: #fff4f4; }
code { font: .9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #f4f6f8;
       padding: .1em .3em; border-radius: 4px; }
main table { border-collapse: collapse; margin: 1em 0; font-size: .9rem; display: block; overflow-x: auto;
             max-width: 100%; }
main th, main td { border: 1px solid var(--rule); padding: .3em .6em; vertical-align: top; }
main th { background: #f4f6f8; text-align: left; }
main tbody tr:nth-child(even) { background: #fafbfc; }
main td.num { text-align: right; font-variant-numeric: tabular-nums; }
main td.status { text-align: center; }
.badge { display: inline-block; min-width: 3.6em; padding: .05em .6em; border-radius: 1em; color: #fff;
         font-size: .8rem; font-weight: 700; letter-spacing: .03em; text-align: center; }
.badge-pass { background: #1a7f37; }
.badge-warn { background: #9a6700; }
.badge-fail { background: var(--alert); }
.badge-na { background: #6e7781; }
img { max-width: 100%; height: auto; display: block; margin: .5em 0; }
@media print {
  @page { size: A4; margin: 10mm 10mm 12mm; }
  body { font-size: 10.5pt; }
  .banner { position: fixed; top: 0; left: 0; right: 0; padding: 2mm 4mm; border-bottom-width: 1px; }
  .print-spacer { display: block; height: 15mm; }
  main { max-width: none; padding: 0; }
  h1, h2, h3 { break-after: avoid; }
  img, tr { break-inside: avoid; }
  main table { display: table; overflow: visible; }
  a { color: inherit; text-decoration: none; }
}
"""

# The wrapper table's header repeats on every printed page and reserves the room the fixed
# banner covers there; on screen the spacer is hidden and the banner sticks to the top.
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<header class="banner" role="note" aria-label="not for release"><strong>{banner}</strong><span>{notice}</span></header>
<table class="page" role="presentation">
<thead><tr><td><div class="print-spacer"></div></td></tr></thead>
<tbody><tr><td><main>
{body}</main></td></tr></tbody>
</table>
</body>
</html>
"""

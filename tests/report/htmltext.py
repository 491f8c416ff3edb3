"""A small reader of the report's HTML tables for tests (stdlib html.parser, no browser)."""

from __future__ import annotations

from html.parser import HTMLParser


class ReportTables(HTMLParser):
    """Collect every ``<table data-table=KEY>`` as a list of rows of cell texts (superscripts dropped)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._key: str | None = None
        self._cell: list[str] | None = None
        self._in_sup = False
        self._text: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._key = attrs.get("data-table")
            self.tables[self._key] = []
        elif tag == "tr" and self._key:
            self.tables[self._key].append([])
        elif tag in ("td", "th") and self._key:
            self._cell = []
        elif tag == "sup":
            self._in_sup = True
        elif tag in ("style", "svg"):
            self._in_style = True

    def handle_endtag(self, tag):
        if tag == "table":
            self._key = None
        elif tag in ("td", "th") and self._key and self._cell is not None:
            self.tables[self._key][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "sup":
            self._in_sup = False
        elif tag in ("style", "svg"):
            self._in_style = False

    def handle_data(self, data):
        if self._cell is not None and not self._in_sup:
            self._cell.append(data)
        if not self._in_style:
            self._text.append(data)

    @property
    def text(self) -> str:
        """All visible text outside style and SVG elements."""
        return " ".join(" ".join(self._text).split())


def read_report(html: str) -> ReportTables:
    """Parse report HTML."""
    parser = ReportTables()
    parser.feed(html)
    return parser

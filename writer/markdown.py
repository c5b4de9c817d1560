"""A section's Markdown as HTML for the page: markdown-it-py (CommonMark, raw HTML off), then
nh3 keeps only the tags a section may use. Citation marks [n] become links to the citation."""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "ul",
    "ol",
    "li",
    "blockquote",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "code",
    "pre",
    "hr",
    "a",
    "sup",
}
ATTRIBUTES = {"a": {"href", "class"}, "sup": {"class"}, "ol": {"start"}}
# A citation mark: [n], the n-th passage a section was given (its citations' "n").
CITE = re.compile(r"\[(\d{1,2})\]")


def render(text: str, *, anchor: str = "") -> str:
    """Sanitised HTML of `text`; `[n]` links to `#{anchor}-cite-n` when an anchor is given."""
    html = _MD.render(text or "")
    if anchor:
        html = CITE.sub(
            lambda m: (
                f'<sup class="cite"><a class="cite-mark" href="#{anchor}-cite-{m.group(1)}">'
                f"[{m.group(1)}]</a></sup>"
            ),
            html,
        )
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes={"http", "https"},
        link_rel="noopener noreferrer",
    )

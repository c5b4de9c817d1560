"""What an exported document is made of, independent of the file format."""

from __future__ import annotations

import datetime
from dataclasses import dataclass


@dataclass(frozen=True)
class ExportSection:
    """One first-level part of the body. `heading` may carry its number ("一、活动目的") or not
    ("活动目的": the exporter numbers it by position). `markdown` is the section's text;
    `citations` the sources it draws on, as a reader names them ("《劳动法》第四十四条"); a
    marker [n] in the text refers to the n-th of them."""

    heading: str
    markdown: str
    citations: tuple[str, ...] = ()


@dataclass(frozen=True)
class OfficialDocument:
    """A document laid out as GB/T 9704-2012 lays out a 公文. `issuer` is the signature line
    (发文机关署名), `date` the 成文日期, `recipient` the 主送机关 (none when empty). `ai_label` is
    `portal.aigc.implicit_label(...)` when any of the text was written by a model; the document
    then carries the visible and the implicit label, and none at all when it is None."""

    title: str
    issuer: str
    date: datetime.date
    sections: tuple[ExportSection, ...]
    recipient: str = ""
    ai_label: dict[str, str] | None = None

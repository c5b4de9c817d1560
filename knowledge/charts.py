"""Charts of the analytics dashboard as shapes for inline SVG (no chart library, no script).

A chart is laid out in a fixed coordinate space (WIDTH units wide) that the SVG scales to the
page; templates/knowledge/_chart.html draws it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from knowledge.services.analytics import Tally, WeekFigure

WIDTH = 340
LABEL_CHARS = 22


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str
    href: str = ""


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "start"
    css: str = ""


@dataclass(frozen=True)
class Rule:
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    title: str


@dataclass
class Chart:
    title: str  # what a screen reader says
    height: float
    width: float = WIDTH
    bars: list[Bar] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # polyline points
    points: list[Point] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.bars or self.points)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _nice_max(value: float) -> float:
    """The axis top: 1, 2 or 5 times a power of ten, at or above the value."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(float(m * power) for m in (1, 2, 5, 10) if m * power >= value)


def tally_bars(title: str, tallies: Sequence[Tally], href: str = "") -> Chart:
    """Horizontal bars, one row each: the label above its bar, the figure at the bar's end.
    The abstained share is drawn over the start of the bar. `href` with {key} links a row."""
    row, bar_height, right = 34, 12, 44
    chart = Chart(title=title, height=row * len(tallies) + 4)
    top = max((t.questions for t in tallies), default=0) or 1
    span = WIDTH - right
    for i, tally in enumerate(tallies):
        y = i * row
        link = href.format(key=tally.key) if href and tally.key is not None else ""
        chart.labels.append(Label(0, y + 13, _short(tally.label)))
        width = max(span * tally.questions / top, 2)
        summary = _("%(label)s：%(n)d 次提问，%(a)d 次未覆盖") % {
            "label": tally.label,
            "n": tally.questions,
            "a": tally.abstained,
        }
        chart.bars.append(Bar(0, y + 18, width, bar_height, "bar", summary, link))
        if tally.abstained:
            share = width * tally.abstained / tally.questions
            chart.bars.append(Bar(0, y + 18, share, bar_height, "bar-abstained", summary, link))
        chart.labels.append(Label(width + 4, y + 29, str(tally.questions), css="figure"))
    return chart


def _week_axis(chart: Chart, weeks: Sequence[WeekFigure], left: float, bottom: float) -> float:
    """Week labels (month/day of the Monday) under the plot, a few of them; returns the step."""
    step = (WIDTH - left) / max(len(weeks), 1)
    every = max(1, math.ceil(len(weeks) / 6))
    last = len(weeks) - 1
    for i, week in enumerate(weeks):
        # Counted back from the latest week, which is always named: evenly spaced, never two
        # side by side (11/30 and 12/7 ran into each other).
        if (last - i) % every == 0:
            x = left + step * (i + 0.5)
            chart.labels.append(
                Label(x, bottom + 14, f"{week.week.month}/{week.week.day}", "middle", "axis")
            )
    return step


def weekly_questions(weeks: Sequence[WeekFigure]) -> Chart:
    """Questions per week as columns; the abstained part of each column in its own colour."""
    left, plot, bottom = 30.0, 140.0, 140.0
    chart = Chart(title=_("每周提问量（其中未覆盖）"), height=bottom + 20)
    top = _nice_max(max((w.questions for w in weeks), default=0))
    for fraction in (0.0, 0.5, 1.0):
        y = bottom - plot * fraction
        chart.rules.append(Rule(left, y, WIDTH, y))
        figure = top * fraction
        text = str(int(figure)) if figure == int(figure) else f"{figure:g}"
        chart.labels.append(Label(left - 4, y + 4, text, "end", "axis"))
    step = _week_axis(chart, weeks, left, bottom)
    for i, week in enumerate(weeks):
        if not week.questions:
            continue
        x = left + step * i + step * 0.15
        height = plot * week.questions / top
        summary = _("%(week)s 这周：%(n)d 次提问，%(a)d 次未覆盖") % {
            "week": week.week.isoformat(),
            "n": week.questions,
            "a": week.abstained,
        }
        chart.bars.append(Bar(x, bottom - height, step * 0.7, height, "bar", summary))
        if week.abstained:
            part = plot * week.abstained / top
            chart.bars.append(Bar(x, bottom - part, step * 0.7, part, "bar-abstained", summary))
    return chart


def weekly_abstention(weeks: Sequence[WeekFigure]) -> Chart:
    """The share of questions the knowledge base could not answer, week by week (a line; a
    week without questions leaves a gap)."""
    left, plot, bottom = 36.0, 100.0, 110.0
    chart = Chart(title=_("每周未覆盖率"), height=bottom + 20)
    for fraction in (0.0, 0.5, 1.0):
        y = bottom - plot * fraction
        chart.rules.append(Rule(left, y, WIDTH, y))
        chart.labels.append(Label(left - 4, y + 4, f"{int(fraction * 100)}%", "end", "axis"))
    step = _week_axis(chart, weeks, left, bottom)
    run: list[str] = []
    for i, week in enumerate(weeks):
        rate = week.abstention_rate
        if rate is None:
            if len(run) > 1:
                chart.lines.append(" ".join(run))
            run = []
            continue
        x, y = left + step * (i + 0.5), bottom - plot * rate
        run.append(f"{x:.1f},{y:.1f}")
        chart.points.append(
            Point(
                x,
                y,
                _("%(week)s 这周：未覆盖率 %(rate)d%%（%(a)d / %(n)d）")
                % {
                    "week": week.week.isoformat(),
                    "rate": round(rate * 100),
                    "a": week.abstained,
                    "n": week.questions,
                },
            )
        )
    if len(run) > 1:
        chart.lines.append(" ".join(run))
    return chart

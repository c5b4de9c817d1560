"""The analytics charts' layout: what a reader of the week axis sees."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest

from knowledge import charts
from knowledge.services.analytics.reports import WeekFigure


@pytest.mark.parametrize("count", [1, 5, 6, 7, 12, 13, 26, 52])
def test_the_week_axis_names_the_latest_week_and_never_two_weeks_side_by_side(count: int) -> None:
    first = date(2026, 1, 5)
    weeks = [WeekFigure(first + timedelta(weeks=i), 10, 1, 0, 0) for i in range(count)]

    chart = charts.weekly_questions(weeks)

    named = [label for label in chart.labels if label.css == "axis" and "/" in label.text]
    latest = weeks[-1].week
    assert named[-1].text == f"{latest.month}/{latest.day}"
    xs = sorted(label.x for label in named)
    gaps = [b - a for a, b in itertools.pairwise(xs)]
    # Room for a label such as 12/28 between any two: at most six across the plot.
    assert all(gap >= (charts.WIDTH - 30) / 6 - 1e-6 for gap in gaps), gaps
    assert len({round(gap, 6) for gap in gaps}) <= 1  # evenly spaced

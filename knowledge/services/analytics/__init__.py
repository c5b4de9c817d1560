"""Question analytics: topics of what members ask, weekly figures, and the editor's path from an
unanswered or disliked question to a published FAQ entry that answers it.

Topics are rebuilt from the questions of the last WINDOW_DAYS by a daily job. Two questions are
about the same thing when their words mean the same (the lexicon maps colloquial words and
synonyms to one formal concept) and when their answers cite the same segment; DEVELOPERS.md
describes the clustering.
"""

from knowledge.services.analytics.refresh import (
    RefreshSummary,
    refresh_question_analytics,
    schedule_refresh,
)
from knowledge.services.analytics.reports import (
    NO_CATEGORY,
    PERIODS,
    PendingGroup,
    Scope,
    Tally,
    WeekFigure,
    category_tallies,
    describe_groups,
    not_yet_grouped,
    pending_counts,
    pending_groups,
    suggested_variants,
    topic_tallies,
    uncovered_concepts,
    week_figures,
)
from knowledge.services.analytics.topics import WINDOW_DAYS
from knowledge.services.analytics.worklist import (
    Pending,
    check_may_handle,
    faq_from_question,
    kind_of,
    mark_handled,
    pending,
)

__all__ = [
    "NO_CATEGORY",
    "PERIODS",
    "WINDOW_DAYS",
    "Pending",
    "PendingGroup",
    "RefreshSummary",
    "Scope",
    "Tally",
    "WeekFigure",
    "category_tallies",
    "check_may_handle",
    "describe_groups",
    "faq_from_question",
    "kind_of",
    "mark_handled",
    "not_yet_grouped",
    "pending",
    "pending_counts",
    "pending_groups",
    "refresh_question_analytics",
    "schedule_refresh",
    "suggested_variants",
    "topic_tallies",
    "uncovered_concepts",
    "week_figures",
]

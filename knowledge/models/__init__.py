"""The knowledge app's models, split by concern; dependencies run one way:
content ← index, content ← ask ← analytics ← accuracy."""

from knowledge.models.accuracy import (
    AccuracyRun,
    QuestionSet,
    QuestionSource,
    RunResult,
    SetQuestion,
    Verdict,
)
from knowledge.models.analytics import AskedQuestion, QuestionTopic, QuestionWeek
from knowledge.models.ask import (
    AnswerMode,
    AnswerStatus,
    Conversation,
    Message,
    MessageRole,
    Rating,
)
from knowledge.models.content import (
    SEED_CATEGORIES,
    AuthorityLevel,
    Category,
    Document,
    DocumentKind,
    DocumentRevision,
    DocumentStatus,
    FaqCitation,
    FaqEntry,
    FaqStatus,
    LexiconEntry,
    LexiconKind,
    Segment,
)
from knowledge.models.index import (
    IndexStats,
    IndexTerm,
    Posting,
    SegmentEmbedding,
    SegmentTerms,
)

__all__ = [
    "SEED_CATEGORIES",
    "AccuracyRun",
    "AnswerMode",
    "AnswerStatus",
    "AskedQuestion",
    "AuthorityLevel",
    "Category",
    "Conversation",
    "Document",
    "DocumentKind",
    "DocumentRevision",
    "DocumentStatus",
    "FaqCitation",
    "FaqEntry",
    "FaqStatus",
    "IndexStats",
    "IndexTerm",
    "LexiconEntry",
    "LexiconKind",
    "Message",
    "MessageRole",
    "Posting",
    "QuestionSet",
    "QuestionSource",
    "QuestionTopic",
    "QuestionWeek",
    "Rating",
    "RunResult",
    "Segment",
    "SegmentEmbedding",
    "SegmentTerms",
    "SetQuestion",
    "Verdict",
]

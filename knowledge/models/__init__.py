"""The knowledge app's models, split by concern; dependencies run one way:
content ← index, content ← ask ← analytics."""

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
from knowledge.models.index import IndexStats, IndexTerm, Posting, SegmentEmbedding

__all__ = [
    "SEED_CATEGORIES",
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
    "QuestionTopic",
    "QuestionWeek",
    "Rating",
    "Segment",
    "SegmentEmbedding",
]

"""The error codes of the knowledge base: curation, files, retrieval, Ask and analytics."""

from __future__ import annotations

from portal.errors import ErrorCode


class KnowledgeErrorCode(ErrorCode):
    # Curation
    KNOWLEDGE_ERROR = "knowledge_error"
    DUPLICATE_DOCUMENT = "duplicate_document"
    NO_TITLE = "no_title"
    TITLE_TOO_LONG = "title_too_long"
    EMPTY = "empty"
    BAD_DATES = "bad_dates"
    NO_SEGMENTS = "no_segments"
    BAD_TRANSITION = "bad_transition"
    EMPTY_SEGMENT = "empty_segment"
    SEGMENT_TOO_LONG = "segment_too_long"
    INCOMPLETE_FAQ = "incomplete_faq"
    DUPLICATE_FAQ = "duplicate_faq"
    BAD_KIND = "bad_kind"
    BAD_PHRASE = "bad_phrase"
    NO_TARGETS = "no_targets"
    DUPLICATE_TERM = "duplicate_term"
    UNKNOWN_CITE = "unknown_cite"
    BAD_CITE = "bad_cite"
    AMBIGUOUS_CITE = "ambiguous_cite"
    # Uploaded files
    BAD_DOCUMENT = "bad_document"
    UNSUPPORTED_TYPE = "unsupported_type"
    NO_TEXT = "no_text"
    TOO_LARGE = "too_large"
    BAD_ENCODING = "bad_encoding"
    ZIP_BOMB = "zip_bomb"
    CORRUPT = "corrupt"
    ENCRYPTED = "encrypted"
    TOO_MANY_PAGES = "too_many_pages"
    # Retrieval
    BAD_QUESTION = "bad_question"
    EMPTY_QUESTION = "empty_question"
    QUESTION_TOO_LONG = "question_too_long"
    NO_WORDS = "no_words"
    # Ask
    ASK_ERROR = "ask_error"
    BAD_JSON = "bad_json"
    UNSAFE_QUESTION = "unsafe_question"
    CONVERSATION_NOT_FOUND = "conversation_not_found"
    MESSAGE_NOT_FOUND = "message_not_found"
    ANSWER_FAILED = "answer_failed"
    ANSWER_PENDING = "answer_pending"
    BAD_RATING = "bad_rating"
    REASON_TOO_LONG = "reason_too_long"
    # Analytics: the editors' work list
    NOT_PENDING = "not_pending"
    UNKNOWN_SEGMENT = "unknown_segment"
    NO_SEGMENT = "no_segment"
    SEGMENT_NOT_RETRIEVABLE = "segment_not_retrievable"
    ALREADY_HANDLED = "already_handled"
    # Accuracy (命中率): question sets and their runs
    QUESTION_SET_ERROR = "question_set_error"
    BAD_QUESTION_FILE = "bad_question_file"
    QUESTION_SET_TOO_LARGE = "question_set_too_large"
    EMPTY_SET = "empty_set"
    RUN_ACTIVE = "run_active"

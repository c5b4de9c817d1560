"""Word associations learned from the FAQ: how workers' words translate into the words of the
text that answers them, for every document, including those nobody wrote an FAQ for.

Each published FAQ entry pairs workers' wording (its question and variants) with the article
it cites first. Over all entries, a question word `q` is associated with an article word `a`
when most entries worded with `q` cite an article containing `a` (confidence), much more often
than articles in general contain `a` (lift): 老板 → 用人单位, 社保 → 社会保险, 裸辞 → 解除. A
question's words then also search for their associates, at a weight that grows with the
confidence: the FAQ's knowledge reaches documents that have no FAQ of their own, instead of
padding only the articles the FAQ cite. A word the cited articles already contain teaches
nothing (it matches by itself).

Each wording (the question and each variant), paired with the entry's answer and the article
it cites first (the answer alone when the article is not in the base), also teaches a
translation model (`translate`, IBM Model 1): for every question word, how likely a word of the
documents is to have been said that way, t(question word | document word), learned by
expectation-maximisation over all the words of each wording and of its answer and article.
The ranker reads it as a translation language model (`retrieval.KeywordRetriever`): how
probable the question is as a translation of a passage, so a passage that holds what workers'
words translate into moves up, in every document (辞职 ← 解除, 多久 ← 日, 公司 ← 用人单位).

Learned per process when the FAQ change (the FAQ matcher's version tells), like the matcher.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import connection

from knowledge import faqmatch
from knowledge.models import FaqCitation, FaqEntry, FaqStatus, Segment
from knowledge.text import BuildMemo, segmenter

log = logging.getLogger(__name__)

# A question word needs this many FAQ entries before its associations count.
MIN_ENTRIES = 3
# Share of those entries whose cited article holds the associate.
MIN_CONFIDENCE = 0.4
# How many times more often than articles in general.
MIN_LIFT = 1.5
PER_WORD = 5
# The translation model: EM rounds, and per question word the article words it is most likely
# said for (t of at least TRANSLATION_MIN), the likeliest first.
EM_ROUNDS = 5
TRANSLATION_MIN = 0.01
TRANSLATIONS_PER_WORD = 50
CELL_BUDGET = 4_000_000


@dataclass(frozen=True)
class Association:
    word: str  # the question's word
    target: str  # the article word it stands for
    confidence: float  # 0..1


Translations = dict[str, tuple[tuple[str, float], ...]]
Taught = tuple[list[Sequence[str]], list[str]]  # an entry's wordings' words, and its formal words


@dataclass
class _Model:
    version: tuple[object, ...] = ()
    table: dict[str, tuple[Association, ...]] = field(default_factory=dict)
    # question word → (article word, t(question word | article word)), the likeliest first
    translation: Translations = field(default_factory=dict)


_lock = threading.Lock()
_model = _Model()


_NUMBERISH = re.compile(r"^第?[0-9零一二三四五六七八九十百千万两]+[条款项章节天日周月年个岁倍元]?$")


# An article's number (第一条 is cut into 第一 and 一条): what every article has says nothing.
_ARTICLE_NUMBER = re.compile(
    r"^(?:第[0-9零一二三四五六七八九十百千]+[条款项章节]?|[0-9零一二三四五六七八九十百千]+[条款项章节])$"
)


def _wordlike(target: str) -> bool:
    """Associates are words: two characters or more, not a number or an article's number."""
    return len(target) > 1 and not _NUMBERISH.match(target)


def learn(pairs: list[tuple[set[str], set[str]]]) -> dict[str, tuple[Association, ...]]:
    """From (question words, cited article words) pairs, each question word's associates."""
    entries = len(pairs)
    if not entries:
        return {}
    word_count: Counter[str] = Counter()
    target_count: Counter[str] = Counter()
    joint: dict[str, Counter[str]] = defaultdict(Counter)
    for asked, article in pairs:
        target_count.update(article)
        for word in asked:
            word_count[word] += 1
            if word not in article:
                joint[word].update(article)
    table: dict[str, tuple[Association, ...]] = {}
    for word, seen in word_count.items():
        if seen < MIN_ENTRIES or word not in joint:
            continue
        found = []
        for target, together in joint[word].items():
            confidence = together / seen
            lift = confidence / (target_count[target] / entries)
            if confidence >= MIN_CONFIDENCE and lift >= MIN_LIFT and _wordlike(target):
                found.append((confidence * math.log(lift), Association(word, target, confidence)))
        found.sort(key=lambda item: (-item[0], item[1].target))
        if found:
            table[word] = tuple(a for _, a in found[:PER_WORD])
    return table


def translate(entries: Sequence[tuple[Sequence[Sequence[str]], Sequence[str]]]) -> Translations:
    """IBM Model 1 from FAQ entries, each its wordings' word lists and the words that answer
    them in the documents' language: t(q | a), the probability that document word `a` is said
    as question word `q`, with an empty word for the question's words that translate nothing.
    Expectation-maximisation over all entries at once in numpy, a cell per distinct wording
    word and answer word of an entry (the wordings of one entry share their answer: a word in
    several of them counts that many times). Memory grows with the cells: beyond CELL_BUDGET,
    every k-th entry is learned from (a budget of 4 million cells is about 1,700 seed-sized
    entries and 150 MB while learning)."""
    prepared = []
    for wordings, formal in entries:
        # Words in the order they first come (not a set's): ids, and so the order in which the
        # floating-point sums below add up, are the same in every process.
        said = Counter(w for words in wordings for w in dict.fromkeys(words))
        answer = dict.fromkeys(formal)
        if said and answer:
            prepared.append((said, answer))
    cells = sum(len(said) * (len(answer) + 1) for said, answer in prepared)
    stride = math.ceil(cells / CELL_BUDGET) if cells > CELL_BUDGET else 1
    asked_ids: dict[str, int] = {}
    formal_ids: dict[str, int] = {"": 0}  # the empty word
    cell_q: list[np.ndarray] = []
    cell_a: list[np.ndarray] = []
    weights: list[int] = []
    kept = prepared[::stride]
    for said, answer in kept:
        q = np.array([asked_ids.setdefault(w, len(asked_ids)) for w in said], dtype=np.int64)
        a = np.array([0, *(formal_ids.setdefault(w, len(formal_ids)) for w in answer)])
        cell_q.append(np.repeat(q, len(a)))
        cell_a.append(np.tile(a, len(q)))
        weights.extend(said.values())
    if not cell_q:
        return {}
    size = len(formal_ids)
    # One parameter per (question word, document word) seen together.
    pair_ids = np.concatenate(cell_q) * size + np.concatenate(cell_a)
    del cell_q, cell_a
    keys, inverse = np.unique(pair_ids, return_inverse=True)
    del pair_ids
    cell_key = inverse.astype(np.int32)
    del inverse
    key_a = keys % size
    # Each wording word of an entry is a group of cells, one per answer word (and the empty).
    group_size = np.repeat([len(answer) + 1 for _, answer in kept], [len(said) for said, _ in kept])
    of_group = np.repeat(np.arange(len(group_size), dtype=np.int32), group_size)
    count = np.array(weights, dtype=np.float64)
    t = np.ones(len(keys))
    for _ in range(EM_ROUNDS):
        expected = t[cell_key]
        expected *= (count / np.bincount(of_group, weights=expected))[of_group]
        totals = np.bincount(cell_key, weights=expected, minlength=len(keys))
        t = totals / np.bincount(key_a, weights=totals)[key_a]
    asked_words = np.array(list(asked_ids), dtype=object)
    formal_words = np.array(list(formal_ids), dtype=object)
    keep = (t >= TRANSLATION_MIN) & (key_a != 0)
    key_q = keys[keep] // size
    order = np.lexsort((-t[keep], key_q))  # by question word, the likeliest first
    out: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for q, a, p in zip(
        asked_words[key_q[order]], formal_words[key_a[keep][order]], t[keep][order], strict=True
    ):
        if len(out[q]) < TRANSLATIONS_PER_WORD:
            out[q].append((a, float(p)))
    return {q: tuple(found) for q, found in out.items()}


def _build(version: tuple[object, ...]) -> _Model:
    with _WORDS.build() as words:
        return _learn(version, words)


# The words of the texts the model learns from, kept from one learning to the next.
_WORDS: BuildMemo[tuple[str, ...]] = BuildMemo(lambda text: tuple(segmenter.tokens(text)))
Words = Callable[[str], Sequence[str]]


def _learn(version: tuple[object, ...], words: Words) -> _Model:
    primary = dict(
        FaqCitation.objects.filter(position=0, faq__status=FaqStatus.PUBLISHED).values_list(
            "faq_id", "segment_id"
        )
    )
    segments = Segment.objects.filter(id__in=set(primary.values())).values_list(
        "id", "context", "heading", "text"
    )
    texts = {seg_id: (context, heading, text) for seg_id, context, heading, text in segments}
    words_of = {seg_id: set(words(text)) for seg_id, (_, _, text) in texts.items()}
    # The translation model reads the article as the index does: its law, chapter and heading too.
    own_words = {seg_id: words(" ".join(parts)) for seg_id, parts in texts.items()}
    pairs = []
    taught: list[Taught] = []
    questions = set()
    for faq_id, question, variants, answer in FaqEntry.objects.filter(
        status=FaqStatus.PUBLISHED
    ).values_list("id", "question", "variants", "answer"):
        # The editor's answer says it in the documents' words too, and is there when the
        # articles are not (an FAQ whose law is not in the base).
        entry = _taught(
            words,
            [question, *map(str, variants)],
            answer,
            own_words.get(primary.get(faq_id, -1), ()),
        )
        article = words_of.get(primary.get(faq_id, -1))
        if article:
            pairs.append(({t for tokens in entry[0] for t in tokens}, article))
        taught.append(entry)
        questions.add(question)
    # What the FAQ shipped with the portal teach (their wordings and answers, written for this
    # portal) is how workers say the documents' words in any base: learned with the base's own
    # FAQ, an entry the base publishes (as seeded or as its editors changed it) in its place.
    shipped = [
        _taught(words, [question, *variants], answer)
        for question, variants, answer in _shipped_faq()
        if question not in questions
    ]
    return _Model(version=version, table=learn(pairs), translation=translate(taught + shipped))


def _taught(words: Words, wordings: list[str], answer: str, article: Sequence[str] = ()) -> Taught:
    """An FAQ entry as the translation model learns from it: its wordings' words, and the words
    of its answer and article (not an article's number)."""
    formal = [*words(answer), *article]
    return (
        [words(text) for text in wordings],
        [w for w in formal if not _ARTICLE_NUMBER.match(w)],
    )


SHIPPED_FAQ = Path(__file__).resolve().parent / "seed" / "faq"


@cache
def _shipped_faq() -> tuple[tuple[str, tuple[str, ...], str], ...]:
    """The FAQ shipped with the portal (their wordings and answers, written for this project):
    each entry's question, variants and answer."""
    entries = []
    for path in sorted(SHIPPED_FAQ.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                variants = tuple(item.get("variants", []))
                entries.append((item["question"], variants, item["answer"]))
    return tuple(entries)


def _current(faq: faqmatch.FaqIndex | None = None, *, wait: bool = False) -> _Model:
    """The model learned from the FAQ as `faq` stands. After a change, with a model learned
    before it, the new one is learned in the background (KNOWLEDGE_RELEARN_IN_BACKGROUND) and
    the one before serves meanwhile: one edited entry among thousands changes little of what
    the FAQ teach, and no member waits a second for it. `wait`: learn it now."""
    global _model
    version = (faq or faqmatch.current()).version  # the lexicon's version is part of it
    model = _model
    if version == model.version:
        return model
    if model.version and not wait and settings.KNOWLEDGE_RELEARN_IN_BACKGROUND:
        _relearn_in_background(version)
        return model
    with _lock:
        if version != _model.version:
            _model = _build(version)
    return _model


# The background learning: the version the latest search asked for, whether a thread learns
# (one per process at a time) and which, and a version that could not be learned, with when.
RETRY_SECONDS = 60.0
_wanted: tuple[object, ...] = ()
_busy = False
_thread: threading.Thread | None = None
_failed: tuple[tuple[object, ...], float] = ((), 0.0)
_threads_lock = threading.Lock()


def _relearn_in_background(version: tuple[object, ...]) -> None:
    global _wanted, _busy, _thread
    with _threads_lock:
        _wanted = version
        if _busy:
            return  # the thread learns `_wanted` once it is done with the one before
        failed, when = _failed
        if failed == version and time.monotonic() - when < RETRY_SECONDS:
            return  # it failed moments ago: not a thread and a traceback per question
        thread = threading.Thread(target=_relearn, name="relearn-faq", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # no more threads (or the interpreter is shutting down)
            log.warning("could not start learning from the FAQ again", exc_info=True)
            return
        _busy, _thread = True, thread


def _relearn() -> None:
    """Learn what the latest search asked for, until the model is that one. The thread says it
    is done in the same breath as it finds nothing more to learn: a version asked for after
    that starts a thread of its own."""
    global _model, _failed, _busy
    done = False
    try:
        while True:
            with _threads_lock:
                version = _wanted
                if version == _model.version:
                    _busy, done = False, True
                    return
            try:
                with _lock:
                    if version != _model.version:
                        _model = _build(version)
            except Exception:
                log.exception("could not learn from the FAQ again; the model before serves")
                with _threads_lock:
                    _failed, _busy, done = (version, time.monotonic()), False, True
                return
    finally:
        if not done:  # not by a return above (a BaseException)
            with _threads_lock:
                _busy = False
        connection.close()  # this thread's own database connection


def settle(faq: faqmatch.FaqIndex | None = None) -> None:
    """Learn from the FAQ as they stand now, if they changed, after any learning in the
    background: the warm-up, and an accuracy run, which measures them."""
    thread = _thread
    if thread is not None:
        thread.join()
    _current(faq, wait=True)


def _after_fork() -> None:
    """A child process (Celery's prefork pool) has none of its parent's threads."""
    global _lock, _threads_lock, _thread, _busy
    _lock, _threads_lock, _thread, _busy = threading.Lock(), threading.Lock(), None, False


os.register_at_fork(after_in_child=_after_fork)


def current(faq: faqmatch.FaqIndex | None = None) -> dict[str, tuple[Association, ...]]:
    """The table learned from the FAQ as `faq` (the search's FAQ index) stands."""
    return _current(faq).table


def translations(faq: faqmatch.FaqIndex | None = None) -> Translations:
    """The translation model learned from the FAQ as `faq` stands (`translate`)."""
    return _current(faq).translation


def expand(tokens: list[str], faq: faqmatch.FaqIndex | None = None) -> list[Association]:
    """The learned associates of the question's words."""
    table = current(faq)
    return [a for token in dict.fromkeys(tokens) for a in table.get(token, ())]

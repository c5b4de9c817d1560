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

Learned per process when the FAQ change (the FAQ matcher's version tells), like the matcher.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from knowledge import faqmatch
from knowledge.models import FaqCitation, FaqEntry, FaqStatus, Segment
from knowledge.text import segmenter

# A question word needs this many FAQ entries before its associations count.
MIN_ENTRIES = 3
# Share of those entries whose cited article holds the associate.
MIN_CONFIDENCE = 0.4
# How many times more often than articles in general.
MIN_LIFT = 1.5
PER_WORD = 5


@dataclass(frozen=True)
class Association:
    word: str  # the question's word
    target: str  # the article word it stands for
    confidence: float  # 0..1


@dataclass
class _Model:
    version: tuple[object, ...] = ()
    table: dict[str, tuple[Association, ...]] = field(default_factory=dict)


_lock = threading.Lock()
_model = _Model()


_NUMBERISH = re.compile(r"^第?[0-9零一二三四五六七八九十百千万两]+[条款项章节天日周月年个岁倍元]?$")


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


def _build(version: tuple[object, ...]) -> _Model:
    primary = dict(
        FaqCitation.objects.filter(position=0, faq__status=FaqStatus.PUBLISHED).values_list(
            "faq_id", "segment_id"
        )
    )
    texts = dict(Segment.objects.filter(id__in=set(primary.values())).values_list("id", "text"))
    words_of = {seg_id: set(segmenter.tokens(text)) for seg_id, text in texts.items()}
    pairs = []
    for faq_id, question, variants in FaqEntry.objects.filter(
        status=FaqStatus.PUBLISHED, id__in=list(primary)
    ).values_list("id", "question", "variants"):
        article = words_of.get(primary[faq_id])
        if article:
            asked = {t for text in [question, *map(str, variants)] for t in segmenter.tokens(text)}
            pairs.append((asked, article))
    return _Model(version=version, table=learn(pairs))


def current(faq: faqmatch.FaqIndex | None = None) -> dict[str, tuple[Association, ...]]:
    """The table learned from the FAQ as `faq` (the search's FAQ index) stands."""
    global _model
    version = (faq or faqmatch.current()).version
    if version != _model.version:
        with _lock:
            if version != _model.version:
                _model = _build(version)
    return _model.table


def expand(tokens: list[str], faq: faqmatch.FaqIndex | None = None) -> list[Association]:
    """The learned associates of the question's words."""
    table = current(faq)
    return [a for token in dict.fromkeys(tokens) for a in table.get(token, ())]

"""Topics: questions grouped by meaning (their concepts, character pairs and cited segments)."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import ahocorasick

from knowledge import lexicon as lexicon_module
from knowledge.models import (
    LexiconEntry,
    LexiconKind,
)
from knowledge.text import normalise, segmenter

# Longer than the dashboard's longest period (26 weeks) with its partial first week.
WINDOW_DAYS = 190
# A question joins the topic whose centre is at least this close (idf-weighted cosine).
SIMILARITY = 0.3
# Character pairs only back up the words (they match where segmentation differs).
BIGRAM_WEIGHT = 0.4
# Answers that cite the same segment are strong evidence of the same question: the cited
# segments weigh this much relative to all of a question's words, however many it has.
SEGMENT_SHARE = 0.75
# idf as if there were at least this many distinct questions: in a small set every word is
# rare, and shared words should still count in full.
MIN_IDF_BASE = 1000
# Candidate topics come from the posting lists of the features that at most this many topics
# have: the cost per question stays flat as topics grow.
COMMON_FEATURE = 50
BATCH = 2000
_KEY_DROP = re.compile(r"[^\u3400-\u9fffa-z0-9]+")


def question_key(text: str) -> str:
    """What makes two question texts the same text: letters, digits and Chinese characters."""
    return _KEY_DROP.sub("", normalise(text))


class Concepts:
    """The lexicon as one formal concept per word: each synonym group stands for its first word,
    a colloquial phrase for the formal words it maps to. Phrases are found in a question as
    retrieval finds them (lexicon.Lexicon.expand), with one automaton pass per question."""

    def __init__(self, lexicon: lexicon_module.Lexicon, head: dict[str, str]) -> None:
        self.head = head
        self.targets: dict[str, list[str]] = {
            phrase: list(dict.fromkeys(head.get(t, t) for t, _kind in targets))
            for phrase, targets in lexicon.expansions.items()
        }
        self._automaton: Any = ahocorasick.Automaton()
        for phrase in self.targets:
            if len(phrase) > 1:
                self._automaton.add_word(phrase, phrase)
        if len(self._automaton):
            self._automaton.make_automaton()

    @classmethod
    def current(cls) -> Concepts:
        head: dict[str, str] = {}
        rows = LexiconEntry.objects.filter(kind=LexiconKind.SYNONYM).order_by("id")
        for phrase, targets in rows.values_list("phrase", "targets"):
            first = normalise(phrase)
            for word in [first, *(normalise(str(t)) for t in targets)]:
                head.setdefault(word, first)
        return cls(lexicon_module.current(), head)

    def features(self, text: str, words: list[str]) -> tuple[dict[str, float], list[str]]:
        """The question's features (concepts, character pairs) with their weights, and its
        concepts in order (for a topic's keywords). `words`: segmenter.words(text)."""
        found = (
            [phrase for _end, phrase in self._automaton.iter(normalise(text))]
            if len(self._automaton)
            else []
        )
        found += [w for w in words if len(w) == 1 and w in self.targets]
        concepts = [self.head.get(w, w) for w in words]
        for phrase in found:
            concepts.extend(self.targets[phrase])
        out: dict[str, float] = dict.fromkeys(concepts, 1.0)
        for word in words:
            # Pairs inside a word, not across words: 拖欠工资 meets 工资 and 欠工资.
            for i in range(len(word) - 1 if len(word) > 2 else 0):
                out.setdefault("#" + word[i : i + 2], BIGRAM_WEIGHT)
        return out, list(dict.fromkeys(concepts))


@dataclass
class QuestionText:
    """One distinct question text and the questions asked with it."""

    key: str
    shown: str
    first_asked: datetime
    words: list[str] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    segments: Counter[int] = field(default_factory=Counter)
    vector: dict[str, float] = field(default_factory=dict)
    concepts: list[str] = field(default_factory=list)


def cluster(texts: Sequence[QuestionText], idf: dict[str, float]) -> list[list[QuestionText]]:
    """Greedy leader clustering, most asked texts first: each text joins the topic whose centre
    (the count-weighted sum of its texts' unit vectors) is closest, when that is close enough,
    or starts a topic. Deterministic for the same texts in the same order."""
    members: list[list[QuestionText]] = []
    norm2: list[float] = []
    # feature → topic → the feature's weight in the topic's centre
    centres: dict[str, dict[int, float]] = {}
    for text in texts:
        vector = _unit(text, idf)
        # Only topics that share a feature few topics have are candidates (one that most topics
        # share adds little and would cost the most); common features still count in the dot.
        shared = sorted(((f, centres[f]) for f in vector if f in centres), key=lambda s: len(s[1]))
        cut = sum(1 for _, topics in shared if len(topics) <= COMMON_FEATURE) or min(len(shared), 1)
        dots: dict[int, float] = defaultdict(float)
        for f, topics in shared[:cut]:
            weight = vector[f]
            for topic, value in topics.items():
                dots[topic] += weight * value
        common = [(vector[f], topics) for f, topics in shared[cut:]]
        best, best_similarity, best_dot = -1, 0.0, 0.0
        for topic, dot in dots.items():
            for weight, topics in common:
                dot += weight * topics.get(topic, 0.0)
            similarity = dot / math.sqrt(norm2[topic])
            if similarity > best_similarity:
                best, best_similarity, best_dot = topic, similarity, dot
        if best_similarity < SIMILARITY:
            best, best_dot = len(members), 0.0
            members.append([])
            norm2.append(0.0)
        count = float(len(text.ids))
        for f, v in vector.items():
            topics = centres.setdefault(f, {})
            topics[best] = topics.get(best, 0.0) + count * v
        norm2[best] += 2 * count * best_dot + count * count
        members[best].append(text)
    return members


def _unit(text: QuestionText, idf: dict[str, float]) -> dict[str, float]:
    """The text's idf-weighted features and cited segments as a unit vector."""
    weighted = {f: w * idf[f] for f, w in text.vector.items()}
    words = math.sqrt(sum(v * v for v in weighted.values())) or 1.0
    for segment_id, n in text.segments.items():
        weighted[f"@{segment_id}"] = SEGMENT_SHARE * words * n / len(text.ids)
    norm = math.sqrt(sum(v * v for v in weighted.values()))
    return {f: v / norm for f, v in weighted.items()}


def idf_weights(texts: Sequence[QuestionText]) -> dict[str, float]:
    df: Counter[str] = Counter()
    for text in texts:
        df.update(text.vector.keys())
    n = max(len(texts), MIN_IDF_BASE)
    return {f: math.log(1 + (n - d + 0.5) / (d + 0.5)) for f, d in df.items()}


def describe(texts: Iterable[QuestionText], concepts: Concepts) -> None:
    """Each text's features; the Ask service stores a question's words (segmenter.words of
    the question it searched), older rows are segmented here."""
    for text in texts:
        words = text.words or segmenter.words(text.shown)
        text.vector, text.concepts = concepts.features(text.shown, words)

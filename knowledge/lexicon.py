"""The union lexicon as retrieval uses it: a per-process snapshot of the editors' entries."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from knowledge import versions
from knowledge.models import LexiconEntry, LexiconKind
from knowledge.text import normalise, segmenter


@dataclass(frozen=True)
class Expansion:
    phrase: str  # what the question said
    target: str  # the word searched for in its place
    kind: str  # LexiconKind value, or how else the word was found (retrieval.LEARNED…)
    weight: float = 1.0  # share of the expansion weight: a learned association's confidence


@dataclass(frozen=True)
class Lexicon:
    version: tuple[object, ...] = ()
    # phrase → the words it also stands for, longest phrases first.
    expansions: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    words: frozenset[str] = frozenset()

    def expand(self, question: str, tokens: list[str]) -> list[Expansion]:
        """Every lexicon phrase found in the question, with what it expands to. Phrases of two
        characters or more match anywhere; a single character only as a whole token."""
        text = normalise(question)
        token_set = set(tokens)
        found: list[Expansion] = []
        for phrase, targets, anywhere in self._phrases:
            if (phrase in text) if anywhere else (phrase in token_set):
                found.extend(Expansion(phrase, target, kind) for target, kind in targets)
        return found

    @cached_property
    def _phrases(self) -> tuple[tuple[str, tuple[tuple[str, str], ...], bool], ...]:
        """The expansions in order, each with whether it matches anywhere (two characters or
        more) or only as a whole token."""
        return tuple((p, t, len(p) > 1) for p, t in self.expansions.items())


def build(entries: list[tuple[str, str, list[str]]], version: tuple[object, ...]) -> Lexicon:
    expansions: dict[str, dict[str, str]] = {}
    words: set[str] = set()

    def add(phrase: str, target: str, kind: str) -> None:
        if phrase != target:
            expansions.setdefault(phrase, {}).setdefault(target, kind)

    for kind, phrase, targets in entries:
        phrase = normalise(phrase)
        clean = [normalise(t) for t in targets if normalise(t)]
        words.add(phrase)
        words.update(clean)
        if kind == LexiconKind.SYNONYM:
            group = [phrase, *clean]
            for a in group:
                for b in group:
                    add(a, b, kind)
        elif kind == LexiconKind.COLLOQUIAL:
            for target in clean:
                add(phrase, target, kind)
    ordered = dict(
        sorted(
            ((p, tuple(t.items())) for p, t in expansions.items()),
            key=lambda item: (-len(item[0]), item[0]),
        )
    )
    return Lexicon(version=version, expansions=ordered, words=frozenset(words))


_lock = threading.Lock()
_current = Lexicon()


def _version() -> tuple[object, ...]:
    return versions.read().lexicon


def current() -> Lexicon:
    """The lexicon as the database holds it now; the segmenter's user words follow it. Its
    version is read from the database on every call (once per search: `versions`), so an
    editor's change applies to the next question everywhere."""
    global _current
    version = _version()
    if version == _current.version and version != ():
        return _current
    with _lock:
        if _current.version != version:
            rows = LexiconEntry.objects.values_list("kind", "phrase", "targets")
            lexicon = build([(k, p, list(t)) for k, p, t in rows], version)
            segmenter.sync_words(lexicon.words)
            _current = lexicon
    return _current


class LexiconFileError(ValueError):
    pass


def parse_file(path: Path) -> list[tuple[str, str, list[str]]]:
    """Read the seed format: `term W`, `syn A B C`, `map COLLOQUIAL => FORMAL …`."""
    entries: list[tuple[str, str, list[str]]] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip() if raw.lstrip().startswith("#") else raw.strip()
        if not line:
            continue
        kind, _, rest = line.partition(" ")
        if kind == "term" and rest.strip():
            entries.append((LexiconKind.TERM.value, rest.strip(), []))
        elif kind == "syn" and len(rest.split()) >= 2:
            first, *others = rest.split()
            entries.append((LexiconKind.SYNONYM.value, first, others))
        elif kind == "map" and "=>" in rest:
            left, _, right = rest.partition("=>")
            if left.strip() and right.split():
                entries.append((LexiconKind.COLLOQUIAL.value, left.strip(), right.split()))
                continue
            raise LexiconFileError(f"{path.name}:{number}: map needs words on both sides of =>")
        else:
            raise LexiconFileError(f"{path.name}:{number}: cannot read {raw.strip()!r}")
    return entries

"""Content safety: the sensitive-word list, matched in one pass (Aho–Corasick) on any text."""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any

import ahocorasick
from django.core.cache import cache

from portal.ai.models import SafetyAction, SensitiveTerm
from portal.ai.threads import off_loop

log = logging.getLogger("portal.ai.safety")

VERSION_KEY = "ai:safety:version"
ALLOW = "allow"
# Characters people put between the letters of a word to slip it past a filter.
_FILLERS = frozenset(" \t\r\n\u3000\u200b\u200c\u200d\ufeff·•*-_.,，。、|/\\~!！")


@dataclass(frozen=True)
class Match:
    term: str
    category: str
    action: str


@dataclass(frozen=True)
class SafetyVerdict:
    action: str  # "allow", "review" or "block"
    matches: tuple[Match, ...]
    where: str

    @property
    def allowed(self) -> bool:
        return self.action == ALLOW

    @property
    def categories(self) -> list[str]:
        return sorted({match.category for match in self.matches})


_FILLER = re.compile("[" + re.escape("".join(sorted(_FILLERS))) + "]")
# The full-width punctuation of Chinese text, each replaced by what NFKC makes of it before
# NFKC runs: NFKC gives the same text (these characters decompose to one ASCII character that
# nothing composes with), and a text left with no other compatibility character passes NFKC's
# quick check instead of being decomposed and recomposed whole (80 µs for 200 characters).
_HALF_WIDTH = tuple((wide, unicodedata.normalize("NFKC", wide)) for wide in "，：；（）！？\u3000")


def normalise(text: str) -> str:
    """Full-width to half-width, one case, and the fillers between letters taken out. A
    streamed answer is checked again before each delta goes out (its last 200 characters), so
    this runs for every delta: a regular expression takes the fillers out (str.translate looks
    each character up in a dict, 30 µs for 200 characters); splitting the text at each filler
    and joining the pieces took 7 µs where substituting runs of them took 12."""
    if not text.isascii():
        for wide, narrow in _HALF_WIDTH:
            if wide in text:
                text = text.replace(wide, narrow)
    return "".join(_FILLER.split(unicodedata.normalize("NFKC", text).casefold()))


_lock = threading.Lock()
_built: tuple[str, Any] | None = None


def _automaton(version: str) -> Any:
    global _built
    with _lock:
        if _built is not None and _built[0] == version:
            return _built[1]
    automaton = ahocorasick.Automaton()
    terms = SensitiveTerm.objects.filter(enabled=True).values_list("term", "category", "action")
    for term, category, action in terms:
        key = normalise(term)
        if key:
            automaton.add_word(key, Match(term, category, action))
    if len(automaton):
        automaton.make_automaton()
    with _lock:
        _built = (version, automaton)
    return automaton


def current_version() -> str:
    # A random token rather than a counter: a cleared cache can never bring back an old number.
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(VERSION_KEY, "")
    return str(version)


def list_changed() -> None:
    """Every process rebuilds its automaton at its next check (the services call this)."""
    cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)


def _verdict(automaton: Any, text: str, where: str) -> SafetyVerdict:
    matches: dict[str, Match] = {}
    if len(automaton) and text:
        for _end, match in automaton.iter(normalise(text)):
            matches.setdefault(match.term, match)
    if not matches:
        return SafetyVerdict(action=ALLOW, matches=(), where=where)
    found = tuple(matches.values())
    if any(match.action == SafetyAction.BLOCK for match in found):
        action = str(SafetyAction.BLOCK)
    elif found:
        action = str(SafetyAction.REVIEW)
    else:
        action = ALLOW
    if found:
        # Never the text itself: it may be personal.
        log.info(
            "sensitive terms at %s: action=%s categories=%s",
            where,
            action,
            ",".join(sorted({m.category for m in found})),
        )
    return SafetyVerdict(action=action, matches=found, where=where)


def check_text(text: str, *, where: str) -> SafetyVerdict:
    """Check a user's prompt or a model's answer against the list. `where` names the place
    (for example "ask.prompt", "ask.answer", "imaging.prompt") in the log."""
    return _verdict(_automaton(current_version()), text, where)


@dataclass(frozen=True)
class TextChecker:
    """The list as it stood when asked for: checks text as it grows (a streamed answer, before
    each delta goes out) with no I/O, so it may run on the event loop."""

    automaton: Any
    where: str

    def check(self, text: str) -> SafetyVerdict:
        return _verdict(self.automaton, text, self.where)


def text_checker(*, where: str) -> TextChecker:
    return TextChecker(_automaton(current_version()), where)


async def acheck_text(text: str, *, where: str) -> SafetyVerdict:
    """`check_text` for async views (the list may need reading from the database)."""
    return await off_loop(check_text)(text, where=where)

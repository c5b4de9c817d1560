"""Chinese text for the index: normalisation, segmentation with jieba and the union lexicon."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

import jieba

jieba.setLogLevel(logging.WARNING)
log = logging.getLogger(__name__)

MAX_TERM_CHARS = 64
SHORT_TEXT = 16  # texts up to this long have their tokens remembered (Segmenter.tokens)
SHORT_TEXTS_KEPT = 50_000
RECENT_KEPT = 2_000  # precise segmentations kept (Segmenter.words)
_SPACE = re.compile(r"[ \t\u3000]+")
_CJK_GAP = re.compile(
    r"(?<=[\u3400-\u9fff，。、；：？！（）《》“”])[ \t]+(?=[\u3400-\u9fff，。、；：？！（）《》“”])"
)
T = TypeVar("T")
_WORDLIKE = re.compile(r"[\u3400-\u9fffa-z0-9]")
_STOPWORDS_FILE = Path(__file__).parent / "stopwords.txt"
STORE_FORMAT = "segmentations/1"

STOPWORDS = frozenset(
    word
    for line in _STOPWORDS_FILE.read_text(encoding="utf-8").splitlines()
    if not line.startswith("#")
    for word in line.split()
)


def normalise(text: str) -> str:
    """NFKC (full-width letters and digits become ASCII), lower case, and no stray spaces
    between Chinese characters (print extraction leaves them mid-sentence)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _CJK_GAP.sub("", text)
    return _SPACE.sub(" ", text).strip()


class Segmenter:
    """A jieba tokenizer of our own (not jieba's global one) with the lexicon's words added.

    Loaded once per process; `sync_words` adds and removes user words when the lexicon changes.
    """

    def __init__(self) -> None:
        self._tokenizer = jieba.Tokenizer()
        self._words: frozenset[str] = frozenset()
        self._lock = threading.Lock()
        # Segmentations of short texts (a question's words, the lexicon's targets: a question
        # segments some thirty of them), forgotten when the user words change.
        self._short: dict[str, list[str]] = {}
        # Precise segmentations of recent texts: a question is cut three times per search.
        self._recent: dict[str, list[str]] = {}
        self._generation = 0
        # Whether the user words were added at once to a fresh tokenizer, as a new process does:
        # jieba's suggest_freq depends on the words added before, so a tokenizer that took
        # them change by change may segment otherwise (`stored` keeps nothing of it).
        self._canonical = True
        self._store: _Store | None = None  # while `stored()` runs

    def sync_words(self, words: Iterable[str]) -> None:
        wanted = frozenset(w for w in (normalise(w) for w in words) if len(w) > 1)
        with self._lock:
            if wanted == self._words:
                return
            if self._words - wanted:
                # jieba's del_word zeroes a word's frequency, even a word of its own dictionary
                # (工伤); only a fresh tokenizer segments as a fresh process would.
                self._tokenizer = jieba.Tokenizer()
                self._words = frozenset()
            self._canonical = not self._words
            # In a fixed order: jieba's suggest_freq depends on the words added before, and set
            # order differs between processes (PYTHONHASHSEED), so segmentation did too.
            for word in sorted(wanted - self._words):
                self._tokenizer.add_word(word, freq=max(self._tokenizer.suggest_freq(word), 10))
            self._words = wanted
            self._generation += 1
            self._short = {}
            self._recent = {}

    def load(self) -> None:
        """Load jieba's dictionary and its part-of-speech tags now (about a second), rather
        than in the first question that needs them (`portal.readiness`)."""
        with self._lock:
            self._tokenizer.initialize()
        _noun_tags()

    def is_noun(self, word: str, *, indexed: bool = False) -> bool:
        """Whether the word names a thing: a noun of jieba's dictionary (names of places and
        organisations, fixed expressions such as 劳动合同, and nouns made of verbs such as 仲裁
        or 补偿 included) or a word of the lexicon. jieba's dictionary tags many terms of the
        law as personal names (童工, 养老金, 仲裁庭, 申请人): such a word names a thing when the
        documents use it (`indexed`); a name the documents never use is someone in a story.
        So is a word it tags as an abbreviation (社保; but also 一共) that the documents use
        as such or in its long form (社会保险)."""
        tag = self.tag(word)
        return word in self._words or tag in _NOUN_TAGS or (indexed and tag in _INDEXED_NOUN_TAGS)

    def may_abbreviate(self, word: str) -> bool:
        """Whether the word may be a short form of a thing's name: an abbreviation (jieba's tag
        j: 社保, 医保), a word jieba's dictionary does not know (年假, 失业险) or a rare noun
        (个体户, 社保费); not a verb or a pronoun (上班, 哪边), nor a noun common in its own
        right (工地 is no 工作地点, 矿井 no 矿山井下)."""
        tag = self.tag(word)
        if tag in ("", "j"):
            return True
        return self.is_noun(word) and self.frequency(word) < SHORT_FORM_FREQ

    def frequency(self, word: str) -> int:
        """How often jieba's dictionary counts the word in its general corpus (0: unknown)."""
        self._tokenizer.check_initialized()
        frequency: int = self._tokenizer.FREQ.get(word, 0)
        return frequency

    def is_everyday(self, word: str) -> bool:
        """Whether the word is among the commonest of general Chinese (公司, 孩子, 老板, 程度 by
        jieba's dictionary frequencies, drawn from a general corpus): the people and places of
        anyone's story, never the specific thing a question asks about. Lexicon words and place
        names are not."""
        if word in self._words or self.is_place(word):
            return False  # a region's figures are another matter than the nation's
        return self.frequency(word) >= EVERYDAY_FREQ

    def is_place(self, word: str) -> bool:
        """Whether jieba's dictionary knows the word as a place name."""
        return self.tag(word) == "ns"

    def tag(self, word: str) -> str:
        """jieba's part-of-speech tag of the word ("" when its dictionary does not know it)."""
        return _noun_tags().get(word, "")

    @property
    def generation(self) -> int:
        """Changes whenever the lexicon's words do (and with them every segmentation)."""
        return self._generation

    def fingerprint(self) -> str:
        """What a segmentation depends on besides the text: jieba (its version and dictionary),
        the lexicon's words, and this module's rules (its source and the stopwords)."""
        digest = hashlib.sha256()
        for part in (
            STORE_FORMAT,
            jieba.__version__,
            str(self._tokenizer.dictionary),
            unicodedata.unidata_version,  # `normalise`'s NFKC
            Path(__file__).read_text(encoding="utf-8"),
            _STOPWORDS_FILE.read_text(encoding="utf-8"),
            *sorted(self._words),
        ):
            digest.update(part.encode() + b"\0")
        return digest.hexdigest()

    @contextmanager
    def stored(self, path: Path) -> Iterator[None]:
        """Within the block, this thread's search-mode segmentations are read from `path`,
        where an earlier process kept those its warm-up made (with the same `fingerprint`:
        anything else that could change a segmentation makes the file another's). Once the
        block has run, the file keeps those asked for in it, when they differ from what it
        held. Other threads segment as ever: a member's question asked meanwhile (a warm-up in
        the background) is never kept. Segmenting the FAQ and the articles they cite is half
        of a warm-up (about 2.5 s of CPU per process); reading them back takes a tenth of that.
        """
        if not self._canonical:
            yield  # a long-running process whose words came change by change: as ever
            return
        fingerprint = self.fingerprint()
        store = _Store(_read_store(path, fingerprint), self._generation, threading.get_ident())
        self._store = store
        try:
            yield
        finally:
            self._store = None
        if store.generation == self._generation and store.asked.keys() != store.kept.keys():
            _write_store(path, fingerprint, store.asked)

    def tokens(self, text: str) -> list[str]:
        """Search-mode segmentation (whole words and their dictionary sub-words), without
        stopwords and punctuation."""
        if len(text) > SHORT_TEXT:
            return list(self._segmented(text))
        cached = self._short.get(text)
        if cached is None:
            generation = self._generation
            cached = self._segmented(text)
            if generation == self._generation:  # not segmented by a tokenizer since replaced
                if len(self._short) >= SHORT_TEXTS_KEPT:
                    self._short = {}
                self._short[text] = cached
        return list(cached)

    def _segmented(self, text: str) -> list[str]:
        """`_tokens`, or, in the thread of a warm-up that reads kept segmentations, what an
        earlier process kept (`stored`)."""
        store = self._store
        if (
            store is None
            or store.thread != threading.get_ident()
            or store.generation != self._generation
        ):
            return self._tokens(text)
        found = store.kept.get(text)
        if found is None:
            found = self._tokens(text)
        store.asked[text] = found
        return found

    def _tokens(self, text: str) -> list[str]:
        out = []
        for token in self._tokenizer.cut_for_search(normalise(text)):
            token = token.strip()
            if token and token not in STOPWORDS and _WORDLIKE.search(token):
                out.append(token[:MAX_TERM_CHARS])
        return out

    def words(self, text: str) -> list[str]:
        """Precise-mode segmentation: the question's concepts, one token per word."""
        cached = self._recent.get(text)
        if cached is None:
            generation = self._generation
            cached = self._words_of(text)
            if generation == self._generation:
                if len(self._recent) >= RECENT_KEPT:
                    self._recent = {}
                self._recent[text] = cached
        return list(cached)

    def _words_of(self, text: str) -> list[str]:
        out = []
        for token in self._tokenizer.cut(normalise(text)):
            token = token.strip()
            if token and token not in STOPWORDS and _WORDLIKE.search(token):
                out.append(token[:MAX_TERM_CHARS])
        return out


@dataclass
class _Store:
    """A warm-up's kept segmentations (`Segmenter.stored`): those read, the lexicon's words'
    generation and the thread they serve, and the texts asked for."""

    kept: dict[str, list[str]]
    generation: int
    thread: int
    asked: dict[str, list[str]] = field(default_factory=dict)


def _read_store(path: Path, fingerprint: str) -> dict[str, list[str]]:
    """The segmentations kept at `path` for `fingerprint`; none when it is missing, unreadable
    or another's."""
    try:
        kept = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        log.warning("segmentations kept in %s are unreadable; segmenting anew", path)
        return {}
    if not isinstance(kept, dict) or kept.get("fingerprint") != fingerprint:
        return {}
    texts = kept.get("texts")
    return texts if isinstance(texts, dict) else {}


def _write_store(path: Path, fingerprint: str, texts: dict[str, list[str]]) -> None:
    """Keep `texts` at `path`, whole or not at all (processes warming up together each write
    theirs; the last one stays). A cache: failing to write it fails nothing else."""
    temporary = None
    try:
        body = json.dumps({"fingerprint": fingerprint, "texts": texts}, ensure_ascii=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            out.write(body.encode())
            os.fchmod(out.fileno(), 0o644)  # the web's and the workers' (texts, no secret)
        os.replace(temporary, path)
    except Exception:
        log.warning("could not keep segmentations in %s", path, exc_info=True)
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


_NOUN_TAGS = frozenset({"n", "nz", "ns", "l", "vn"})
_INDEXED_NOUN_TAGS = frozenset({"nr", "j"})  # nouns when the documents use them
# jieba's dictionary counts 老板 4,402 times, 员工 3,748, 天气 2,657, 世界杯 1,654, 婚假 8.
EVERYDAY_FREQ = 3000
# A noun counted more often (工地 704 times, 矿井 234) is a word in its own right; 个体户 (116)
# and 社保费 (3) may stand for a longer name.
SHORT_FORM_FREQ = 200


def _noun_tags() -> dict[str, str]:
    """jieba's dictionary words and their part-of-speech tags (loaded once)."""
    import jieba.posseg

    tags: dict[str, str] = jieba.posseg.dt.word_tag_tab
    return tags


segmenter = Segmenter()

CHARACTER = "@"  # index terms of single Chinese characters start with it
_HAN = re.compile(r"[\u3400-\u9fff]")
HAN_RUN = re.compile(r"[\u3400-\u9fff]+")  # a run of Chinese characters


def characters(text: str) -> list[str]:
    """The text's Chinese characters as index terms ("@肉"): plain BM25 over characters finds
    what word segmentation misses (a worker's 加班费 in a text's 加班工资, an unusual word jieba
    splits differently), so retrieval searches for them too, at a low weight."""
    return [CHARACTER + ch for ch in _HAN.findall(normalise(text))]


class BuildMemo(Generic[T]):
    """What a model built again and again from mostly the same texts (the FAQ index, the
    models learned from the FAQ) made of each text, kept from one build to the next: an edited
    FAQ entry is the only text segmented anew. Only the texts the last build used are kept, and
    none once the lexicon's words change. One per model, used under that model's lock."""

    def __init__(self, make: Callable[[str], T]) -> None:
        self._make = make
        self._kept: dict[str, T] = {}
        self._generation = -1

    @contextmanager
    def build(self) -> Iterator[Callable[[str], T]]:
        generation = segmenter.generation
        before = self._kept if generation == self._generation else {}
        used: dict[str, T] = {}

        def made(text: str) -> T:
            found = used.get(text)
            if found is None:
                found = before.get(text)
                used[text] = found = self._make(text) if found is None else found
            return found

        yield made
        self._kept, self._generation = used, generation

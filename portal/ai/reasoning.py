"""A reasoning model's thinking, kept apart from its answer.

Models think out loud in three ways: DeepSeek's API sends `reasoning_content`, vLLM's and
OpenRouter's reasoning parsers send `reasoning`, and a DeepSeek-R1 distill or Qwen3 served
without a parser (Ollama, a plain vLLM) writes `<think>…</think>` at the start of the content.
The thinking is never the answer: it is not shown, stored, safety-checked as the answer or
searched for citations. `ThinkSplitter` reads the content as it streams, so a tag split across
chunks ("<th" + "ink>") is still a tag, and a block that is never closed is thinking to the end
(the answer is then empty).

Some servers open the block in the prompt (DeepSeek-R1 distills with their current chat template
on vLLM), so the content starts inside it and only `</think>` appears. Nothing in the stream
says so before the thinking has gone by; a provider whose options hold `"thinks_open": true`
is read as already inside the block (`opened=True`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OPEN = "<think>"
CLOSE = "</think>"
# The fields a message or a delta carries its thinking in, by provider.
REASONING_FIELDS = ("reasoning_content", "reasoning")


@dataclass(frozen=True)
class Piece:
    """What one chunk added: to the answer, to the thinking (either may be empty)."""

    text: str = ""
    reasoning: str = ""


_NOTHING = Piece()


def reasoning_of(part: Any) -> str:
    """The thinking a message or delta (a dict or an SDK object) carries in a field of its own."""
    for name in REASONING_FIELDS:
        value = part.get(name) if isinstance(part, dict) else getattr(part, name, None)
        if value is None and not isinstance(part, dict):
            value = (getattr(part, "model_extra", None) or {}).get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def _partial_suffix(text: str, tag: str) -> int:
    """How many characters at the end of `text` could be the start of `tag`."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class ThinkSplitter:
    """Splits streamed content into answer and `<think>` thinking.

    Only a block at the start counts (white space before it aside): a `<think>` later in an
    answer is the answer's own text. Characters that may still turn out to be a tag are held
    back until the next chunk decides; `end()` releases what is left."""

    def __init__(self, *, opened: bool = False) -> None:
        # start → thinking → answer, or start → answer; `opened`: the prompt opened the block.
        self._state = "thinking" if opened else "start"
        self._held = ""
        self._trim = False  # white space after </think> is not the answer's

    def feed(self, content: str) -> Piece:
        if not content:
            return _NOTHING
        if self._state == "answer" and not self._trim and not self._held:
            return Piece(content)  # the usual chunk: nothing held back, nothing to decide
        self._held += content
        text, reasoning = "", ""
        if self._state == "start":
            probe = self._held.lstrip()
            if not probe or (len(probe) < len(OPEN) and OPEN.startswith(probe)):
                return Piece()  # white space, or a tag not yet complete
            if probe.startswith(OPEN):
                self._state, self._held = "thinking", probe[len(OPEN) :]
            else:
                self._state = "answer"
        if self._state == "thinking":
            at = self._held.find(CLOSE)
            if at < 0:
                keep = _partial_suffix(self._held, CLOSE)
                reasoning = self._held[: len(self._held) - keep]
                self._held = self._held[len(self._held) - keep :]
                return Piece(reasoning=reasoning)
            reasoning = self._held[:at]
            self._state, self._held, self._trim = "answer", self._held[at + len(CLOSE) :], True
        if self._trim:
            self._held = self._held.lstrip()
            if not self._held:
                return Piece(reasoning=reasoning)
            self._trim = False
        text, self._held = self._held, ""
        return Piece(text=text, reasoning=reasoning)

    def end(self) -> Piece:
        """What was held back when the content ended: a tag that never completed is text, and
        an unclosed block's tail is thinking."""
        held, self._held = self._held, ""
        if self._state == "thinking":
            return Piece(reasoning=held)
        if self._state == "start":
            return Piece(text=held.strip() and held)
        return Piece(text=held)

    @property
    def thinking(self) -> bool:
        return self._state == "thinking"


def opens_thinking(options: dict[str, Any]) -> bool:
    """Whether a provider's output starts inside a `<think>` block its prompt opened."""
    return options.get("thinks_open") is True


def split_content(content: str, *, opened: bool = False) -> Piece:
    """A whole answer's content as answer and thinking."""
    splitter = ThinkSplitter(opened=opened)
    first, last = splitter.feed(content), splitter.end()
    return Piece(text=first.text + last.text, reasoning=first.reasoning + last.reasoning)


__all__ = ["Piece", "ThinkSplitter", "opens_thinking", "reasoning_of", "split_content"]

"""The poster composer: exact Chinese text set by the portal, with or without an image model.

`compose()` designs a whole poster (no model configured): a layout per purpose and size, a
colour theme or the unit's brand colours, a background of gradients and shapes, the overlay
texts, the unit's logo and organiser line. `overlay()` sets the same texts onto an AI image in a
translucent band. Both use one text setter:

- fonts come from fontconfig (`fc-match`), a CJK face per role (bold sans for titles, regular
  sans for body text, bold serif for invitations); a character the font cannot draw is refused
  rather than printed as a box;
- a text is fitted to its box: first on its own line, shrinking down to a floor; then wrapped
  into balanced lines, shrinking down to the slot's minimum; then refused with
  `TextDoesNotFit`, whose Chinese message names the text and how many characters would fit
  beside the others (searched on the layouts themselves);
- lines break by the Chinese rules (禁则): no closing punctuation at a line's start, no opening
  bracket at its end, digits and Latin words kept whole, between jieba's words where it can;
- every text's colour reaches a WCAG contrast ratio of 4.5 against every background pixel under
  it, else a scrim is laid behind it until it does.
"""

from __future__ import annotations

import logging
import math
import random
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from typing import Final

import jieba
import numpy as np
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from imaging.files import UnsafeImage, load_untrusted

RGB = tuple[int, int, int]

MIN_CONTRAST: Final = 4.5


@dataclass(frozen=True)
class Overlay:
    """The exact texts a poster carries (all optional)."""

    title: str = ""
    subtitle: str = ""
    date: str = ""
    place: str = ""
    organiser: str = ""


@dataclass(frozen=True)
class Brand:
    """A union unit's brand kit: its name (the organiser line), colours ("#RRGGBB"), logo."""

    name: str = ""
    colours: tuple[str, ...] = ()
    logo: bytes | None = None


class TextDoesNotFit(ValueError):
    """A text too long for its place on this purpose and size; `field` names the Overlay field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class FontMissing(RuntimeError):
    """No CJK font is installed (Debian: fonts-noto-cjk, which `make setup` installs)."""


THEMES: Final[dict[str, str]] = {
    "red": "中国红",
    "blue": "劳动蓝",
    "green": "清新绿",
    "orange": "暖阳橙",
    "ink": "水墨雅白",
}

FIELD_LABELS: Final = {
    "title": gettext_lazy("标题"),
    "subtitle": gettext_lazy("副标题"),
    "date": gettext_lazy("时间"),
    "place": gettext_lazy("地点"),
    "organiser": gettext_lazy("主办单位"),
}

# Theme the purpose opens with when none is chosen; other seeds rotate through the rest.
_DEFAULT_THEME: Final = {
    "poster": "red",
    "mobile-poster": "red",
    "invitation": "red",
    "banner": "red",
    "wechat-cover": "blue",
    "illustration": "green",
    "avatar": "blue",
}

# ---------------------------------------------------------------------------------------------
# Fonts

_FONT_QUERIES: Final = {
    "sans-bold": (
        "Noto Sans CJK SC:style=Bold",
        "Source Han Sans SC:style=Bold",
        "WenQuanYi Zen Hei",
        ":lang=zh-cn:weight=bold",
    ),
    "sans": ("Noto Sans CJK SC:style=Regular", "Source Han Sans SC", ":lang=zh-cn"),
    "serif-bold": (
        "Noto Serif CJK SC:style=Bold",
        "Source Han Serif SC:style=Bold",
        "Noto Sans CJK SC:style=Bold",
        ":lang=zh-cn:weight=bold",
    ),
}


@cache
def font_file(role: str) -> tuple[str, int]:
    """The file and face index fontconfig picks for a role, among fonts that cover Chinese."""
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        raise FontMissing("fc-match (fontconfig) is not installed")
    for query in _FONT_QUERIES[role]:
        found = subprocess.run(  # noqa: S603 (a fixed program and our own queries)
            [fc_match, "-f", "%{file}\n%{index}\n%{lang}", query],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout.split("\n")
        if len(found) == 3 and "zh-cn" in found[2].split("|"):
            return found[0], int(found[1] or 0)
    raise FontMissing("no CJK font found by fontconfig: install fonts-noto-cjk")


_faces = threading.local()


def font(role: str, size: int) -> ImageFont.FreeTypeFont:
    """The role's font at a size, cached per thread: a FreeType face must not be used by two
    threads at once, and the image worker runs jobs on a pool of threads."""
    cached: dict[tuple[str, int], ImageFont.FreeTypeFont] = _faces.__dict__.setdefault("by", {})
    face = cached.get((role, size))
    if face is None:
        if len(cached) >= 256:
            cached.clear()
        path, index = font_file(role)
        face = ImageFont.truetype(path, size, index=index, layout_engine=ImageFont.Layout.BASIC)
        cached[(role, size)] = face
    return face


_PROBE_SIZE: Final = 48


@lru_cache(maxsize=8)
def _notdef(role: str) -> bytes:
    """The bitmap the font draws for a character it lacks (its .notdef box)."""
    return _glyph_bitmap(role, "\u0378")  # an unassigned code point: no font maps it


@lru_cache(maxsize=8192)
def _glyph_bitmap(role: str, char: str) -> bytes:
    mask = font(role, _PROBE_SIZE).getmask(char)
    return bytes(mask.size) + bytes(mask)


def missing_glyphs(role: str, text: str) -> list[str]:
    """The characters of `text` the role's font would draw as its missing-glyph box."""
    tofu = _notdef(role)
    return sorted(
        {ch for ch in text if not ch.isspace() and _glyph_bitmap(role, ch) == tofu},
        key=text.index,
    )


# ---------------------------------------------------------------------------------------------
# Colour


def hex_colour(value: str) -> RGB | None:
    """'#RRGGBB' as RGB, or None when it is not one."""
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", value or ""):
        return None
    return (int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16))


def _linear(channel: float) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: RGB) -> float:
    """WCAG relative luminance of an sRGB colour."""
    r, g, b = (_linear(c) for c in colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: float, b: float) -> float:
    """WCAG contrast ratio between two relative luminances."""
    hi, lo = max(a, b), min(a, b)
    return (hi + 0.05) / (lo + 0.05)


_LINEAR_LUT: Final = np.array([_linear(c) for c in range(256)])


def luminance_range(image: Image.Image, box: tuple[int, int, int, int]) -> tuple[float, float]:
    """The darkest and lightest relative luminance of the pixels in `box`."""
    pixels = np.asarray(image.crop(box).convert("RGB"))
    lum = _LINEAR_LUT[pixels] @ np.array([0.2126, 0.7152, 0.0722])
    return float(lum.min()), float(lum.max())


def worst_contrast(colour: RGB, image: Image.Image, box: tuple[int, int, int, int]) -> float:
    """The lowest contrast ratio between `colour` and any pixel in `box`."""
    low, high = luminance_range(image, box)
    text = luminance(colour)
    return min(contrast_ratio(text, low), contrast_ratio(text, high))


def _mix(a: RGB, b: RGB, share_of_b: float) -> RGB:
    r, g, bl = (round(x + (y - x) * share_of_b) for x, y in zip(a, b, strict=True))
    return (r, g, bl)


WHITE: Final[RGB] = (255, 255, 255)
INK: Final[RGB] = (26, 26, 26)


@dataclass(frozen=True)
class Palette:
    top: RGB
    bottom: RGB
    accent: RGB  # shapes, rules, the frame; text when it reads
    title: RGB
    text: RGB
    dark: bool  # light text on a dark ground
    decor: str  # "rays" | "circles" | "waves" | "ink"
    title_role: str = "sans-bold"


_PALETTES: Final = {
    "red": Palette((196, 22, 30), (128, 6, 12), (255, 214, 102), WHITE, WHITE, True, "rays"),
    "blue": Palette(
        (16, 78, 160), (8, 34, 90), (255, 200, 61), WHITE, (235, 243, 255), True, "circles"
    ),
    "green": Palette(
        (241, 249, 236), (196, 230, 176), (46, 125, 50), (22, 84, 32), (33, 45, 38), False, "waves"
    ),
    "orange": Palette(
        (255, 246, 232), (255, 209, 150), (230, 81, 0), (168, 48, 8), (78, 44, 20), False, "rays"
    ),
    "ink": Palette(
        (251, 248, 241),
        (236, 228, 212),
        (160, 30, 30),
        (28, 28, 28),
        (52, 48, 44),
        False,
        "ink",
        "serif-bold",
    ),
}


def _brand_palette(base: Palette, colours: list[RGB]) -> Palette:
    """The theme's shapes in the unit's colours: a deep ground of its first colour when that is
    dark enough for white text, else a pale tint of it with dark text."""
    primary = colours[0]
    accent = colours[1] if len(colours) > 1 else None
    if luminance(primary) < 0.3:
        return replace(
            base,
            top=primary,
            bottom=_mix(primary, (0, 0, 0), 0.4),
            accent=accent or _mix(primary, WHITE, 0.7),
            title=WHITE,
            text=WHITE,
            dark=True,
        )
    deep = _mix(primary, (0, 0, 0), 0.55)
    return replace(
        base,
        top=_mix(primary, WHITE, 0.9),
        bottom=_mix(primary, WHITE, 0.62),
        accent=accent or primary,
        title=deep,
        text=_mix(deep, (0, 0, 0), 0.4),
        dark=False,
    )


def _palette(purpose: str, theme: str | None, brand: Brand | None, seed: int) -> Palette:
    if theme not in _PALETTES:
        first = _DEFAULT_THEME.get(purpose, "red")
        order = [first, *(t for t in THEMES if t != first)]
        theme = order[seed % len(order)]
    palette = _PALETTES[theme]
    colours = [c for c in (hex_colour(v) for v in (brand.colours if brand else ())) if c]
    if colours:
        palette = _brand_palette(palette, colours)
    if purpose == "invitation":
        palette = replace(palette, title_role="serif-bold")
    return palette


# ---------------------------------------------------------------------------------------------
# Line breaking and fitting

# Never at the start of a line (closing punctuation) / never at the end (opening brackets).
NO_LINE_START: Final = frozenset("。，、．,.!?！？：；:;）)》」』】〕〉］]｝}”’›»%％·…—～〜ー")
NO_LINE_END: Final = frozenset("（(《「『【〔〈［[｛{“‘‹«")
_UNIT = re.compile(r"[A-Za-z0-9]+(?:[.:/'’\-][A-Za-z0-9]+)*|\s+|.", re.S)


def break_units(text: str) -> list[str]:
    """The pieces a line may break between: each CJK character, whole Latin words and numbers
    (`9:00`, `2026`), runs of spaces."""
    return _UNIT.findall(text)


@cache
def _tokenizer() -> jieba.Tokenizer:
    jieba.setLogLevel(logging.WARNING)
    return jieba.Tokenizer()


@lru_cache(maxsize=1024)
def word_ends(text: str) -> frozenset[int]:
    """Offsets in `text` where a word ends (jieba): the places a title should rather break."""
    ends, pos = set(), 0
    for word in _tokenizer().cut(text):
        pos += len(word)
        ends.add(pos)
    return frozenset(ends)


@lru_cache(maxsize=1 << 16)
def _advance(face: ImageFont.FreeTypeFont, unit: str) -> float:
    return face.getlength(unit)


def _may_break(before: str, after: str) -> bool:
    if after[0] in NO_LINE_START or before[-1] in NO_LINE_END:
        return False
    # Keep paired marks whole (——, ……).
    return not (before[-1] == after[0] and after[0] in "—…")


def _tracked(font: ImageFont.FreeTypeFont, text: str, tracking: float) -> float:
    return font.getlength(text) + tracking * font.size * max(0, len(text) - 1)


def wrap(
    text: str, font: ImageFont.FreeTypeFont, width: float, tracking: float = 0.0
) -> list[str] | None:
    """Greedy lines no wider than `width`, breaking only where the rules allow, between words
    when a line can (else between characters); None when some piece that may not be broken is
    wider than the line."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        units = break_units(paragraph.strip())
        offsets, advances = [0], [0.0]
        for unit in units:
            offsets.append(offsets[-1] + len(unit))
            advances.append(advances[-1] + _advance(font, unit))
        words = word_ends("".join(units))
        start = 0
        while start < len(units):
            # Summed advances guess the widths (one measurement per piece, not per line);
            # the line kept is measured whole, and a guess a pixel too kind steps back.
            breaks: list[int] = []
            word_breaks: list[int] = []
            for end in range(start + 1, len(units) + 1):
                chars = offsets[end] - offsets[start]
                guess = advances[end] - advances[start] + tracking * font.size * (chars - 1)
                if guess > width + chars:
                    break
                if end == len(units) or _may_break(units[end - 1], units[end]):
                    breaks.append(end)
                    if end == len(units) or offsets[end] in words or units[end].isspace():
                        word_breaks.append(end)
            best = next(
                (
                    end
                    for end in reversed(breaks)
                    if _tracked(font, "".join(units[start:end]).strip(), tracking) <= width
                ),
                None,
            )
            if best is None:
                return None
            # A word break, unless it would leave the line less than half full.
            fewer = [end for end in word_breaks if end <= best]
            if fewer and fewer[-1] - start >= (best - start) / 2:
                best = fewer[-1]
            lines.append("".join(units[start:best]).strip())
            start = best
            while start < len(units) and units[start].isspace():
                start += 1
    return lines


def balanced_wrap(
    text: str, font: ImageFont.FreeTypeFont, width: float, tracking: float = 0.0
) -> list[str] | None:
    """`wrap`, then the narrowest width that keeps the same number of lines, so a title's last
    line is not a lone character."""
    lines = wrap(text, font, width, tracking)
    if lines is None or len(lines) < 2:
        return lines
    low, high = width / 2, width
    while high - low > 2:
        middle = (low + high) / 2
        trial = wrap(text, font, middle, tracking)
        if trial is not None and len(trial) == len(lines):
            high = middle
        else:
            low = middle
    return wrap(text, font, high, tracking)


@dataclass(frozen=True)
class Slot:
    """One text in a region: an Overlay field (or fixed words), its font and size range."""

    field: str  # Overlay attribute; "" for fixed words
    role: str
    max_size: float  # share of the canvas' shorter side
    min_size: float
    max_lines: int
    colour: str = "text"  # "title" | "text" | "accent"
    prefix: str = ""  # drawn in the accent colour before the text, e.g. "时间："
    fixed: str = ""
    requires: str = ""  # fixed words shown only when this field has text
    gap: float = 0.45  # space after, in this slot's size
    tracking: float = 0.0  # extra space between characters, in this slot's size
    leading: float = 1.3
    rule: bool = False  # a short accent rule in the gap after it (when a text follows)
    wrap_below: float = 0.0  # share of max_size under which a text wraps rather than shrinks


@dataclass
class Region:
    """A box of the canvas and the texts stacked in it."""

    box: tuple[int, int, int, int]
    slots: tuple[Slot, ...]
    align: str = "center"  # or "left"
    valign: str = "center"  # or "top", "bottom"
    card: bool = False  # a translucent card behind (date and place)


@dataclass
class Block:
    """A fitted text: its lines at one size."""

    slot: Slot
    text: str
    size: int
    lines: list[str]

    @property
    def font(self) -> ImageFont.FreeTypeFont:
        return font(self.slot.role, self.size)

    @property
    def line_height(self) -> int:
        return round(self.size * self.slot.leading)

    @property
    def height(self) -> int:
        return self.line_height * len(self.lines)

    def width(self) -> float:
        return max(_tracked(self.font, line, self.slot.tracking) for line in self.lines)


def _sizes(high: int, low: int) -> Iterable[int]:
    size = high
    while size > low:
        yield size
        size -= max(1, round(size * 0.04))
    yield low


FEWER_LINES_SHARE: Final = 0.85


def fit(slot: Slot, text: str, width: int, max_px: int, min_px: int) -> Block | None:
    """The slot's text at the largest size that fits, or None.

    Shrink first: its own lines (one per paragraph) at any size down to `wrap_below` of the
    largest (never below the minimum). Then wrap: of the sizes down to the minimum, the fewest
    lines that keep 85 % of the largest wrapped size (three lines of a big title read worse
    than two lines of a slightly smaller one)."""
    paragraphs = [p.strip() for p in text.split("\n")]
    floor = max(min_px, round(max_px * slot.wrap_below))
    if len(paragraphs) <= slot.max_lines:
        for size in _sizes(max_px, floor):
            face = font(slot.role, size)
            if all(_tracked(face, p, slot.tracking) <= width for p in paragraphs):
                return Block(slot, text, size, paragraphs)
    wrapped: dict[int, Block] = {}  # the largest size for each number of lines
    for size in _sizes(max_px, min_px):
        lines = wrap(text, font(slot.role, size), width, slot.tracking)
        if lines is None or len(lines) > slot.max_lines:
            continue
        wrapped.setdefault(len(lines), Block(slot, text, size, lines))
        if len(lines) <= len(paragraphs):
            break  # no smaller size gives fewer lines
    if not wrapped:
        return None
    largest = max(block.size for block in wrapped.values())
    near = [b for b in wrapped.values() if b.size >= largest * FEWER_LINES_SHARE]
    chosen = min(near, key=lambda block: len(block.lines))
    balanced = balanced_wrap(text, chosen.font, width, slot.tracking)
    return replace(chosen, lines=balanced or chosen.lines)


class _TooLong(TextDoesNotFit):
    """A field overflowed its place; the public refusal then says how long it may be."""

    def __init__(self, field: str) -> None:
        super().__init__(field, field)


_PURPOSE_LABELS: Final = {
    "poster": gettext_lazy("海报"),
    "mobile-poster": gettext_lazy("手机海报"),
    "invitation": gettext_lazy("邀请函"),
    "banner": gettext_lazy("横幅"),
    "wechat-cover": gettext_lazy("公众号封面"),
    "illustration": gettext_lazy("插画"),
    "avatar": gettext_lazy("头像"),
}


def _slot_text(slot: Slot, texts: Overlay) -> str:
    if slot.fixed:
        return slot.fixed if not slot.requires or getattr(texts, slot.requires).strip() else ""
    return _clean(getattr(texts, slot.field))


def _clean(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.replace("\r", "").split("\n")]
    return "\n".join(line for line in lines if line)


def _fit_region(region: Region, texts: Overlay, unit: int, purpose: str) -> list[Block]:
    """The region's texts, shrunk together until they stack inside its height."""
    x0, y0, x1, y1 = region.box
    width, height = x1 - x0, y1 - y0
    scale = 1.0
    while True:
        blocks: list[Block] = []
        for slot in region.slots:
            text = _slot_text(slot, texts)
            if not text:
                continue
            min_px = max(8, round(slot.min_size * unit))
            max_px = max(min_px, round(slot.max_size * unit * scale))
            if slot.prefix:
                text = slot.prefix + text
            # Far too long (twice what fits even of narrow Latin letters): no need to measure.
            far_too_long = len(text) > 2 * (width / min_px) * slot.max_lines
            if not slot.fixed and not far_too_long:
                _refuse_missing_glyphs(slot, text)
            block = None if far_too_long else fit(slot, text, width, max_px, min_px)
            if block is None:
                if slot.fixed:
                    continue
                raise _TooLong(slot.field)
            blocks.append(block)
        if _stack_height(blocks) <= height or not blocks:
            return blocks
        if all(b.size <= round(b.slot.min_size * unit) for b in blocks):
            own = [b for b in blocks if not b.slot.fixed]
            if not own:
                return blocks
            tallest = max(own, key=lambda b: b.height)
            raise _TooLong(tallest.slot.field)
        scale *= 0.9


def _refuse_missing_glyphs(slot: Slot, text: str) -> None:
    missing = missing_glyphs(slot.role, text)
    if missing:
        raise TextDoesNotFit(
            slot.field,
            _("%(label)s中的“%(chars)s”无法用字体显示，请删去或换成其他字。")
            % {"label": FIELD_LABELS.get(slot.field, slot.field), "chars": "".join(missing)},
        )


def _stack_height(blocks: list[Block]) -> int:
    if not blocks:
        return 0
    gaps = sum(round(b.size * b.slot.gap) for b in blocks[:-1])
    return sum(b.height for b in blocks) + gaps


# ---------------------------------------------------------------------------------------------
# Layouts: regions in pixels for a purpose and size


@dataclass
class Layout:
    regions: list[Region]
    logo: tuple[int, int, int] | None = None  # x, y, side of the logo's square
    frame: bool = False
    invitation: bool = False
    divider_x: int | None = None  # a vertical accent rule (banners)


def _shape(purpose: str, width: int, height: int) -> str:
    if purpose in ("banner", "wechat-cover", "invitation"):
        return purpose
    ratio = width / height
    if ratio >= 2.0:
        return "banner"
    if ratio <= 0.83:
        return "portrait"
    return "square"


def _box(w: int, h: int, x0: float, y0: float, x1: float, y1: float) -> tuple[int, int, int, int]:
    return (round(w * x0), round(h * y0), round(w * x1), round(h * y1))


TITLE = "title"
ORGANISER_PREFIX = "主办单位："
DATE_PREFIX = "时间："
PLACE_PREFIX = "地点："


def _title(
    role: str,
    largest: float,
    smallest: float,
    lines: int,
    *,
    gap: float,
    leading: float = 1.2,
    rule: bool = False,
) -> Slot:
    """A title slot: wraps (rather than shrinks) below 72 % of its largest size."""
    return Slot(
        TITLE,
        role,
        largest,
        smallest,
        lines,
        "title",
        wrap_below=0.72,
        gap=gap,
        leading=leading,
        rule=rule,
    )


def _info_card(box: tuple[int, int, int, int], largest: float, smallest: float) -> Region:
    """Date and place on a translucent card."""
    return Region(
        box,
        (
            Slot("date", "sans", largest, smallest, 2, prefix=DATE_PREFIX, gap=0.6),
            Slot("place", "sans", largest, smallest, 2, prefix=PLACE_PREFIX),
        ),
        align="left",
        card=True,
    )


def _layout(purpose: str, w: int, h: int, palette: Palette, has_logo: bool) -> Layout:
    unit = min(w, h)
    title_role = palette.title_role
    shape = _shape(purpose, w, h)
    if shape == "banner":
        margin = round(h * 0.16)
        logo_side = round(h * 0.46)
        left = margin + (logo_side + round(h * 0.16) if has_logo else 0)
        split = round(w * 0.62)
        return Layout(
            [
                Region(
                    (left, round(h * 0.12), split - round(h * 0.2), round(h * 0.88)),
                    (
                        _title(title_role, 0.34, 0.15, 2, gap=0.3, leading=1.2),
                        Slot("subtitle", "sans", 0.13, 0.08, 1),
                    ),
                    align="left",
                ),
                Region(
                    (split + round(h * 0.12), round(h * 0.14), w - margin, round(h * 0.86)),
                    (
                        Slot("date", "sans-bold", 0.09, 0.06, 2, prefix=DATE_PREFIX, gap=0.35),
                        Slot("place", "sans-bold", 0.09, 0.06, 2, prefix=PLACE_PREFIX, gap=0.8),
                        Slot("organiser", "sans", 0.085, 0.06, 2, prefix=ORGANISER_PREFIX),
                    ),
                    align="left",
                ),
            ],
            logo=(margin, (h - logo_side) // 2, logo_side) if has_logo else None,
            divider_x=split,
        )
    if shape == "wechat-cover":
        side = round(unit * 0.15)
        return Layout(
            [
                Region(
                    _box(w, h, 0.1, 0.14, 0.9, 0.72),
                    (
                        _title(title_role, 0.2, 0.1, 2, gap=0.35, leading=1.2),
                        Slot("subtitle", "sans", 0.085, 0.06, 1),
                    ),
                ),
                Region(
                    _box(w, h, 0.08, 0.76, 0.92, 0.93),
                    (Slot("date", "sans", 0.06, 0.045, 1, prefix=DATE_PREFIX, gap=0.2),),
                ),
                Region(
                    (
                        round(unit * 0.08) + (side + round(unit * 0.04) if has_logo else 0),
                        round(unit * 0.06),
                        round(w * 0.6),
                        round(unit * 0.06) + side,
                    ),
                    (Slot("organiser", "sans-bold", 0.055, 0.04, 1),),
                    align="left",
                ),
            ],
            logo=(round(unit * 0.08), round(unit * 0.06), side) if has_logo else None,
        )
    logo = (round(unit * 0.075), round(unit * 0.075), round(unit * 0.11)) if has_logo else None
    if shape == "invitation":
        crest = round(h * 0.072)
        return Layout(
            [
                Region(
                    _box(w, h, 0.1, 0.135 if has_logo else 0.085, 0.9, 0.27),
                    (
                        Slot(
                            "",
                            "serif-bold",
                            0.15,
                            0.1,
                            1,
                            "accent",
                            fixed="邀请函",
                            tracking=0.35,
                            gap=0.25,
                            leading=1.15,
                        ),
                        Slot(
                            "", "sans", 0.026, 0.02, 1, "accent", fixed="INVITATION", tracking=0.6
                        ),
                    ),
                ),
                Region(
                    _box(w, h, 0.1, 0.295, 0.9, 0.575),
                    (
                        Slot(
                            "",
                            "sans",
                            0.042,
                            0.03,
                            1,
                            fixed="诚挚邀请您参加",
                            requires=TITLE,
                            gap=0.9,
                        ),
                        _title("serif-bold", 0.095, 0.05, 3, gap=0.5, leading=1.25),
                        Slot("subtitle", "sans", 0.045, 0.032, 2),
                    ),
                ),
                _info_card(_box(w, h, 0.16, 0.61, 0.84, 0.8), 0.04, 0.028),
                Region(
                    _box(w, h, 0.1, 0.835, 0.9, 0.92),
                    (
                        Slot("organiser", "serif-bold", 0.042, 0.028, 2, "title", gap=0.3),
                        Slot("", "sans", 0.034, 0.026, 1, fixed="敬邀", requires="organiser"),
                    ),
                ),
            ],
            logo=((w - crest) // 2, round(h * 0.058), crest) if has_logo else None,
            frame=True,
            invitation=True,
        )
    portrait = shape == "portrait"
    # A tall phone poster and a small avatar carry their title larger.
    title_max = 0.19 if purpose == "avatar" else 0.155 if h / w >= 1.6 else 0.135
    main = (0.085, 0.16, 0.915, 0.56) if portrait else (0.08, 0.15, 0.92, 0.55)
    info = (0.12, 0.615, 0.88, 0.82) if portrait else (0.13, 0.6, 0.87, 0.82)
    return Layout(
        [
            Region(
                _box(w, h, *main),
                (
                    _title(title_role, title_max, 0.06, 3, gap=0.8, leading=1.22, rule=True),
                    Slot("subtitle", "sans", 0.052, 0.034, 2),
                ),
            ),
            _info_card(_box(w, h, *info), 0.042, 0.028),
            Region(
                _box(w, h, 0.08, 0.85, 0.92, 0.925),
                (Slot("organiser", "sans", 0.036, 0.024, 2, prefix=ORGANISER_PREFIX),),
            ),
        ],
        logo=logo,
        frame=True,
    )


def _band_regions(
    main: tuple[int, int, int, int], info: tuple[int, int, int, int], title: float, body: float
) -> list[Region]:
    """Title and subtitle standing on the info lines, all left-aligned, for an AI image."""
    return [
        Region(
            main,
            (
                _title("sans-bold", title, title / 2, 2, gap=0.3, leading=1.2),
                Slot("subtitle", "sans", title * 0.45, title * 0.32, 2),
            ),
            align="left",
            valign="bottom",
        ),
        Region(
            info,
            (
                Slot("date", "sans", body, body * 0.7, 1, prefix=DATE_PREFIX, gap=0.3),
                Slot("place", "sans", body, body * 0.7, 1, prefix=PLACE_PREFIX, gap=0.3),
                Slot("organiser", "sans", body, body * 0.7, 1, prefix=ORGANISER_PREFIX),
            ),
            align="left",
            valign="top",
        ),
    ]


def _band_layout(w: int, h: int) -> tuple[Layout, str]:
    """Regions for texts on an AI image: a band at the bottom (or the left of a wide image),
    clear of the bottom-right corner where the AI mark goes."""
    unit = min(w, h)
    if w / h >= 2.0:
        regions = _band_regions(
            _box(w, h, 0.05, 0.1, 0.55, 0.62), _box(w, h, 0.05, 0.66, 0.55, 0.92), 0.24, 0.07
        )
        return Layout(
            regions, logo=(round(w - unit * 0.24), round(unit * 0.07), round(unit * 0.17))
        ), "left"
    top, bottom = round(h * 0.56), h - round(unit * 0.13)  # above the AI mark's row
    split = top + round((bottom - top) * 0.64)
    left, right = round(w * 0.07), round(w * 0.93)
    regions = _band_regions(
        (left, top, right, split - round(unit * 0.02)), (left, split, right, bottom), 0.1, 0.034
    )
    return Layout(
        regions, logo=(round(unit * 0.05), round(unit * 0.05), round(unit * 0.11))
    ), "bottom"


# ---------------------------------------------------------------------------------------------
# Public entry points


def _with_brand(texts: Overlay, brand: Brand | None) -> tuple[Overlay, bool]:
    """The texts with the brand's name as organiser when none was given (and whether it was)."""
    if brand and brand.name.strip() and not texts.organiser.strip():
        return replace(texts, organiser=brand.name.strip()), True
    return texts, False


def _plan(
    layout: Layout, texts: Overlay, unit: int, purpose: str, organiser_from_brand: bool
) -> list[tuple[Region, list[Block]]]:
    planned = []
    for region in layout.regions:
        try:
            blocks = _fit_region(region, texts, unit, purpose)
        except TextDoesNotFit as refusal:
            if not (organiser_from_brand and refusal.field == "organiser"):
                raise
            # The unit's own name: shown when it fits, never a reason to refuse a member.
            blocks = _fit_region(region, replace(texts, organiser=""), unit, purpose)
        planned.append((region, blocks))
    _take_empty_space(planned)
    return planned


def _take_empty_space(planned: list[tuple[Region, list[Block]]]) -> None:
    """A centred region with nothing but empty regions below it spreads over their space, so a
    poster with only a title does not leave its lower half bare."""
    for index, (region, blocks) in enumerate(planned):
        below = [r for r, b in planned[index + 1 :] if r.box[1] >= region.box[3]]
        rest = planned[index + 1 :]
        if blocks and region.valign == "center" and below and not any(b for _r, b in rest):
            x0, y0, x1, _y1 = region.box
            region.box = (x0, y0, x1, max(r.box[3] for r in below))
            return


Planned = list[tuple[Region, list[Block]]]
LONGEST_SEARCHED: Final = 400


def _planned(
    layouts_for: Callable[[], list[Layout]],
    texts: Overlay,
    unit: int,
    purpose: str,
    organiser_from_brand: bool,
) -> tuple[list[Layout], list[Planned]]:
    """Each layout (made fresh: planning moves its regions) with its fitted texts; a text that
    overflows is refused with the number of characters that would fit beside the others."""
    layouts = layouts_for()
    try:
        return layouts, [_plan(x, texts, unit, purpose, organiser_from_brand) for x in layouts]
    except _TooLong as overflow:
        field = overflow.field
    text = getattr(texts, field)

    def fits(length: int) -> bool:
        trial = replace(texts, **{field: "职" * length})
        try:
            for layout in layouts_for():
                _plan(layout, trial, unit, purpose, organiser_from_brand)
        except TextDoesNotFit:
            return False
        return True

    low, high = 0, min(len(text), LONGEST_SEARCHED)
    while low < high:  # the longest run of full-width characters that fits
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(middle) else (low, middle - 1)
    label = FIELD_LABELS.get(field, field)
    raise TextDoesNotFit(
        field,
        _(
            "%(label)s太长，放不下：这个尺寸的%(what)s上，%(label)s最多 %(limit)d 个汉字，"
            "现在有 %(count)d 个字。请缩短后再试。"
        )
        % {
            "label": label,
            "what": _PURPOSE_LABELS.get(purpose, _("图片")),
            "limit": low,
            "count": len(text.replace("\n", "")),
        },
    )


def check_fits(
    purpose: str, size: tuple[int, int], texts: Overlay, *, brand: Brand | None = None
) -> None:
    """Raise TextDoesNotFit unless every text fits both the composed poster (in any theme) and
    the band on an AI image of this purpose and size (called when the request is made)."""
    width, height = size
    texts, from_brand = _with_brand(texts, brand)
    has_logo = bool(brand and brand.logo)
    # Any theme may be drawn (no theme: the seed picks one); they differ in the title's face.
    palettes = {p.title_role: p for p in (_palette(purpose, t, brand, 0) for t in THEMES)}

    def every() -> list[Layout]:
        composed = [_layout(purpose, width, height, p, has_logo) for p in palettes.values()]
        return [*composed, _band_layout(width, height)[0]]

    _planned(every, texts, min(width, height), purpose, from_brand)


def compose(
    purpose: str,
    size: tuple[int, int],
    texts: Overlay,
    *,
    theme: str | None = None,
    brand: Brand | None = None,
    seed: int = 0,
) -> Image.Image:
    """A designed poster without an image model (RGB)."""
    width, height = size
    texts, from_brand = _with_brand(texts, brand)
    palette = _palette(purpose, theme, brand, seed)
    logo = _logo(brand)
    unit = min(width, height)
    [layout], [planned] = _planned(
        lambda: [_layout(purpose, width, height, palette, logo is not None)],
        texts,
        unit,
        purpose,
        from_brand,
    )
    shapes = random.Random(seed)  # noqa: S311 (where shapes go, not secrets)
    canvas = _background(size, palette, shapes, _shape(purpose, width, height))
    if layout.frame:
        _frame(canvas, palette, unit, double=layout.invitation)
    if layout.divider_x is not None:
        _vertical_rule(canvas, layout.divider_x, palette)
    for region, blocks in planned:
        _set_region(canvas, region, blocks, palette)
    if logo is not None and layout.logo is not None:
        _place_logo(canvas, logo, layout.logo)
    return canvas.convert("RGB")


def overlay(
    image: Image.Image, purpose: str, texts: Overlay, *, brand: Brand | None = None
) -> Image.Image:
    """The texts (and the unit's logo and organiser line) on an AI image, in a translucent
    band that keeps them readable."""
    canvas = image.convert("RGBA")
    width, height = canvas.size
    texts, from_brand = _with_brand(texts, brand)
    logo = _logo(brand)
    side = _band_layout(width, height)[1]
    [layout], [planned] = _planned(
        lambda: [_band_layout(width, height)[0]], texts, min(width, height), purpose, from_brand
    )
    if any(blocks for _region, blocks in planned):
        _band(canvas, side)
    palette = Palette((0, 0, 0), (0, 0, 0), (255, 214, 102), WHITE, WHITE, True, "")
    colours = [c for c in (hex_colour(v) for v in (brand.colours if brand else ())) if c]
    if colours:
        palette = replace(palette, accent=_mix(colours[-1], WHITE, 0.35))
    for region, blocks in planned:
        _set_region(canvas, region, blocks, palette)
    if logo is not None and layout.logo is not None:
        _place_logo(canvas, logo, layout.logo)
    return canvas.convert("RGB")


# ---------------------------------------------------------------------------------------------
# Drawing


def _vertical(size: tuple[int, int], top: RGB, bottom: RGB) -> Image.Image:
    mask = Image.linear_gradient("L").resize(size, Image.Resampling.BICUBIC)
    return Image.composite(
        Image.new("RGBA", size, (*bottom, 255)), Image.new("RGBA", size, (*top, 255)), mask
    )


def _background(
    size: tuple[int, int], palette: Palette, rng: random.Random, shape: str
) -> Image.Image:
    width, height = size
    unit = min(size)
    canvas = _vertical(size, palette.top, palette.bottom)
    # A soft light from above gives the flat gradient depth.
    glow = Image.radial_gradient("L").resize((round(width * 1.6), round(height * 1.2)))
    strength = 34 if palette.dark else 90
    glow = glow.point(lambda v: max(0, 200 - v) * strength // 200)  # zero well inside its edge
    light = Image.new("RGBA", glow.size, (255, 255, 255, 0))
    light.putalpha(glow)
    canvas.alpha_composite(light, (round(-width * 0.3), round(-height * 0.55)))
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    tint = WHITE if palette.dark else palette.accent
    # An invitation stays quiet: its frame is the ornament.
    decor = "" if shape == "invitation" else palette.decor
    if decor == "rays":
        cx = width * rng.uniform(0.35, 0.65)
        cy = -height * 0.08 if shape != "banner" else height * 0.5
        if shape == "banner":
            cx = width * rng.uniform(0.78, 0.92)
        reach = math.hypot(width, height) * 1.2
        count = rng.choice((18, 22, 26))
        turn = rng.uniform(0, math.pi / count)
        for i in range(count):
            a0 = turn + 2 * math.pi * i / count
            a1 = a0 + math.pi / count
            draw.polygon(
                [
                    (cx, cy),
                    (cx + reach * math.cos(a0), cy + reach * math.sin(a0)),
                    (cx + reach * math.cos(a1), cy + reach * math.sin(a1)),
                ],
                fill=(*tint, 11 if palette.dark else 22),
            )
    elif decor == "circles":
        for _i in range(rng.randint(4, 6)):
            r = unit * rng.uniform(0.12, 0.42)
            cx = width * rng.choice((rng.uniform(-0.12, 0.14), rng.uniform(0.86, 1.12)))
            cy = height * rng.uniform(-0.1, 1.1)
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(*tint, rng.randint(8, 16)))
        for _i in range(2):
            r = unit * rng.uniform(0.3, 0.5)
            cx, cy = width * rng.uniform(0.7, 1.05), height * rng.uniform(-0.1, 0.2)
            draw.ellipse(
                (cx - r, cy - r, cx + r, cy + r),
                outline=(*palette.accent, 70),
                width=max(2, round(unit * 0.004)),
            )
    elif decor == "ink":
        r = unit * rng.uniform(0.16, 0.22)
        cx, cy = width * rng.uniform(0.72, 0.84), height * rng.uniform(0.1, 0.16)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(*palette.accent, 34))
    canvas.alpha_composite(layer)
    if palette.decor in ("waves", "rays", "ink") and shape != "banner":
        _hills(canvas, palette, rng, ink=palette.decor == "ink")
    if shape == "banner":
        _stripes(canvas, palette)
    return canvas


def _hills(canvas: Image.Image, palette: Palette, rng: random.Random, *, ink: bool) -> None:
    """Layered waves (or ink-wash hills) along the bottom edge, below the organiser line."""
    width, height = canvas.size
    band = round(height * 0.12)  # the deepest wave and its swing, drawn on a strip this tall
    layer = Image.new("RGBA", (width, band), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    colour = (90, 90, 90) if ink else palette.accent
    for depth, alpha in ((0.075, 45), (0.055, 90), (0.035, 210)):
        base = band - height * depth
        amp = height * (0.018 if not ink else 0.03)
        phase = rng.uniform(0, 2 * math.pi)
        freq = rng.uniform(1.2, 2.2) * 2 * math.pi / width
        points = [(x, base - amp * math.sin(freq * x + phase)) for x in range(0, width + 9, 8)]
        draw.polygon(
            [(0, band), *points, (width, band)],
            fill=(*colour, alpha if not ink else alpha // 2),
        )
    canvas.alpha_composite(layer.filter(ImageFilter.GaussianBlur(1)), (0, height - band))


def _stripes(canvas: Image.Image, palette: Palette) -> None:
    """A ribbon along a banner's foot and a thin line along its head."""
    width, height = canvas.size
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, width, round(height * 0.012)), fill=(*palette.accent, 255))
    draw.rectangle((0, height - round(height * 0.045), width, height), fill=(*palette.accent, 255))


def _frame(canvas: Image.Image, palette: Palette, unit: int, *, double: bool) -> None:
    width, height = canvas.size
    layer = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    inset = round(unit * 0.035)
    line = max(2, round(unit * 0.003))
    alpha = 220 if double else 120
    draw.rectangle(
        (inset, inset, width - inset, height - inset), outline=(*palette.accent, alpha), width=line
    )
    if double:
        inner = inset + round(unit * 0.014)
        draw.rectangle(
            (inner, inner, width - inner, height - inner),
            outline=(*palette.accent, alpha),
            width=max(1, line // 2),
        )
        # Corner ornaments: small squares turned 45°.
        r = round(unit * 0.016)
        for cx, cy in (
            (inset, inset),
            (width - inset, inset),
            (inset, height - inset),
            (width - inset, height - inset),
        ):
            draw.polygon(
                [(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)],
                fill=(*palette.accent, 255),
            )
    canvas.alpha_composite(layer)


def _vertical_rule(canvas: Image.Image, x: int, palette: Palette) -> None:
    height = canvas.height
    draw = ImageDraw.Draw(canvas)
    draw.line(
        (x, round(height * 0.2), x, round(height * 0.8)),
        fill=(*palette.accent, 255),
        width=max(2, round(height * 0.008)),
    )


BAND_ALPHA: Final = 215


def _band(canvas: Image.Image, side: str) -> None:
    """A dark band where the texts go: solid under them, fading out towards the picture
    (from the left edge of a wide image, else from the bottom)."""
    width, height = canvas.size
    if side == "left":
        length, solid, fade = width, round(width * 0.5), round(width * 0.4)
    else:
        length, solid, fade = height, round(height * 0.42), round(height * 0.12)
    # Alpha along the axis, from the text edge outwards: solid, then a linear fade to nothing.
    ramp = bytes(
        BAND_ALPHA if i < solid else max(0, BAND_ALPHA - (i - solid) * BAND_ALPHA // fade)
        for i in range(length)
    )
    if side == "left":
        mask = Image.frombytes("L", (length, 1), ramp).resize((width, height))
    else:
        mask = Image.frombytes("L", (1, length), ramp[::-1]).resize((width, height))
    shade = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    shade.putalpha(mask)
    canvas.alpha_composite(shade)


def _set_region(canvas: Image.Image, region: Region, blocks: list[Block], palette: Palette) -> None:
    if not blocks:
        return
    x0, y0, x1, y1 = region.box
    total = _stack_height(blocks)
    if region.valign == "top":
        y = y0
    elif region.valign == "bottom":
        y = y1 - total
    else:
        y = y0 + (y1 - y0 - total) // 2
    if region.card:
        _card(canvas, region, blocks, y, total, palette)
    for index, block in enumerate(blocks):
        _set_block(canvas, block, (x0, x1), y, region.align, palette)
        y += block.height + round(block.size * block.slot.gap)
        if block.slot.rule and index + 1 < len(blocks):
            middle = y - round(block.size * block.slot.gap / 2)
            _rule(canvas, (x0, x1), middle, region.align, block.size, palette)


def _rule(
    canvas: Image.Image, span_x: tuple[int, int], y: int, align: str, size: int, palette: Palette
) -> None:
    """A short accent rule with a diamond at its centre, between a title and its subtitle."""
    length = round(size * 2.2)
    thick = max(2, round(size * 0.045))
    x = span_x[0] if align == "left" else (span_x[0] + span_x[1] - length) // 2
    draw = ImageDraw.Draw(canvas)
    draw.rectangle(
        (x, y - thick // 2, x + length, y + thick - thick // 2), fill=(*palette.accent, 255)
    )
    r = round(thick * 2.2)
    cx = x + length // 2
    draw.polygon([(cx, y - r), (cx + r, y), (cx, y + r), (cx - r, y)], fill=(*palette.accent, 255))


def _card(
    canvas: Image.Image, region: Region, blocks: list[Block], y: int, total: int, palette: Palette
) -> None:
    """A translucent panel behind the date and place, with an accent bar at its left."""
    x0, _y0, x1, _y1 = region.box
    pad = round(max(b.size for b in blocks) * 0.9)
    layer = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    box = (x0 - pad, y - pad, x1 + pad, y + total + pad)
    fill = (255, 255, 255, 30) if palette.dark else (255, 255, 255, 150)
    draw.rounded_rectangle(box, radius=round(pad * 0.6), fill=fill)
    bar = max(3, round(pad * 0.18))
    draw.rounded_rectangle(
        (box[0], box[1] + pad, box[0] + bar, box[3] - pad),
        radius=bar // 2,
        fill=(*palette.accent, 255),
    )
    canvas.alpha_composite(layer)


def _line_spans(block: Block, index: int, line: str) -> list[tuple[str, str]]:
    """The line as (text, colour role) pieces: the prefix in the accent colour on line one."""
    prefix = block.slot.prefix
    if index == 0 and prefix and line.startswith(prefix):
        return [(prefix, "accent"), (line[len(prefix) :], block.slot.colour)]
    return [(line, block.slot.colour)]


def _set_block(
    canvas: Image.Image,
    block: Block,
    span_x: tuple[int, int],
    top: int,
    align: str,
    palette: Palette,
) -> None:
    face = block.font
    tracking = block.slot.tracking * block.size
    # Glyph ink of a full-height character: centres each line's ink in its line box.
    _l, ink_top, _r, ink_bottom = face.getbbox("国", anchor="ls")
    ink = ink_bottom - ink_top
    placed: list[tuple[float, int, list[tuple[str, str]]]] = []
    boxes = []
    for index, line in enumerate(block.lines):
        spans = _line_spans(block, index, line)
        width = sum(_tracked(face, text, block.slot.tracking) for text, _c in spans)
        x = span_x[0] if align == "left" else span_x[0] + (span_x[1] - span_x[0] - width) / 2
        baseline = top + index * block.line_height + (block.line_height - ink) / 2 - ink_top
        placed.append((x, round(baseline), spans))
        pad = round(block.size * 0.12)
        boxes.append(
            (
                round(x) - pad,
                round(baseline + ink_top) - pad,
                round(x + width) + pad,
                round(baseline + ink_bottom) + pad,
            )
        )
    area = (
        max(0, min(b[0] for b in boxes)),
        max(0, min(b[1] for b in boxes)),
        min(canvas.width, max(b[2] for b in boxes)),
        min(canvas.height, max(b[3] for b in boxes)),
    )
    colours = _readable_colours(canvas, area, block, palette)
    if luminance(colours[block.slot.colour]) > 0.5 and block.slot.colour == "title":
        _shadow(canvas, block, placed, tracking, area)
    draw = ImageDraw.Draw(canvas)
    for left, baseline, spans in placed:
        cursor = left
        for text, role in spans:
            _draw_tracked(draw, (cursor, baseline), text, face, colours[role], tracking)
            cursor += _tracked(face, text, block.slot.tracking)


def _draw_tracked(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, int],
    text: str,
    face: ImageFont.FreeTypeFont,
    fill: RGB,
    tracking: float,
) -> None:
    if not tracking:
        draw.text(xy, text, font=face, fill=(*fill, 255), anchor="ls")
        return
    x, y = xy
    for char in text:
        draw.text((x, y), char, font=face, fill=(*fill, 255), anchor="ls")
        x += face.getlength(char) + tracking


def _shadow(
    canvas: Image.Image,
    block: Block,
    placed: list[tuple[float, int, list[tuple[str, str]]]],
    tracking: float,
    area: tuple[int, int, int, int],
) -> None:
    """A soft dark shadow under light title text: depth, and only more contrast. Drawn on a
    layer the size of the text's area (blurring the whole canvas costs half a second)."""
    offset = max(1, round(block.size * 0.03))
    blur = max(1.0, block.size * 0.04)
    reach = offset + round(blur * 3)
    x0, y0 = max(0, area[0] - reach), max(0, area[1] - reach)
    x1, y1 = min(canvas.width, area[2] + reach), min(canvas.height, area[3] + reach)
    layer = Image.new("RGBA", (x1 - x0, y1 - y0), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for left, baseline, spans in placed:
        cursor = left
        for text, _role in spans:
            at = (cursor + offset - x0, baseline + offset - y0)
            _draw_tracked(draw, at, text, block.font, (0, 0, 0), tracking)
            cursor += _tracked(block.font, text, block.slot.tracking)
    alpha = layer.getchannel("A").point(lambda v: v * 90 // 255)
    layer.putalpha(alpha)
    canvas.alpha_composite(layer.filter(ImageFilter.GaussianBlur(blur)), (x0, y0))


def _readable_colours(
    canvas: Image.Image, area: tuple[int, int, int, int], block: Block, palette: Palette
) -> dict[str, RGB]:
    """The colour per role for this block: the palette's where it reaches 4.5 against every
    pixel under the text, else white or near-black; if neither, a scrim is laid first."""
    wanted = {"title": palette.title, "text": palette.text, "accent": palette.accent}
    main = block.slot.colour
    for candidate in (wanted[main], WHITE, INK):
        if worst_contrast(candidate, canvas, area) >= MIN_CONTRAST:
            chosen = candidate
            break
    else:
        chosen = _scrim(canvas, area, palette)
    colours = {main: chosen}
    for role in ("accent", "title", "text"):
        if role != main:
            ok = worst_contrast(wanted[role], canvas, area) >= MIN_CONTRAST
            colours[role] = wanted[role] if ok else chosen
    return colours


def _scrim(canvas: Image.Image, area: tuple[int, int, int, int], palette: Palette) -> RGB:
    """Darken (or lighten) the area under a text step by step until white (or ink) reads."""
    text, shade = (WHITE, (0, 0, 0)) if palette.dark else (INK, WHITE)
    x0, y0, x1, y1 = area
    pad = round((y1 - y0) * 0.15)
    box = (
        max(0, x0 - pad),
        max(0, y0 - pad),
        min(canvas.width, x1 + pad),
        min(canvas.height, y1 + pad),
    )
    for alpha in range(60, 256, 25):
        layer = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
        ImageDraw.Draw(layer).rounded_rectangle(box, radius=pad, fill=(*shade, alpha))
        trial = Image.alpha_composite(canvas, layer)
        if worst_contrast(text, trial, area) >= MIN_CONTRAST or alpha >= 235:
            canvas.paste(trial)
            return text
    return text


def _logo(brand: Brand | None) -> Image.Image | None:
    """The unit's logo, when it has one that loads safely."""
    if not brand or not brand.logo:
        return None
    try:
        return load_untrusted(brand.logo).convert("RGBA")
    except UnsafeImage:
        return None


def _place_logo(canvas: Image.Image, logo: Image.Image, spot: tuple[int, int, int]) -> None:
    """The logo on a white rounded tile (logos are drawn for white paper) in its corner."""
    x, y, side = spot
    pad = round(side * 0.12)
    inner = side - 2 * pad
    fitted = logo.copy()
    fitted.thumbnail((inner, inner), Image.Resampling.LANCZOS)
    layer = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    draw.rounded_rectangle(
        (x, y, x + side, y + side), radius=round(side * 0.18), fill=(255, 255, 255, 240)
    )
    layer.alpha_composite(fitted, (x + (side - fitted.width) // 2, y + (side - fitted.height) // 2))
    canvas.alpha_composite(layer)

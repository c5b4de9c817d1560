"""The poster composer: real CJK glyphs, Chinese line breaking, fitting, contrast, every layout."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageStat

from imaging import composer
from imaging.composer import (
    NO_LINE_END,
    NO_LINE_START,
    THEMES,
    Brand,
    Overlay,
    TextDoesNotFit,
    check_fits,
    compose,
    overlay,
    wrap,
)

FULL = Overlay(
    title="2026年职工迎新春文艺汇演",
    subtitle="歌舞迎新春 · 同心筑梦想",
    date="2026年1月18日（周日）14:30",
    place="市工人文化宫大剧场",
    organiser="市总工会宣传教育部",
)

SIZES = [
    ("poster", (1024, 1024)),
    ("poster", (768, 1024)),
    ("poster", (1024, 1536)),
    ("mobile-poster", (1080, 1920)),
    ("mobile-poster", (720, 1280)),
    ("invitation", (1024, 1448)),
    ("banner", (1920, 480)),
    ("banner", (1440, 360)),
    ("wechat-cover", (900, 383)),
    ("illustration", (1024, 1024)),
    ("avatar", (512, 512)),
    ("flyer", (800, 600)),  # unknown purpose: a layout by aspect ratio
    ("flyer", (600, 1200)),
    ("flyer", (2400, 600)),
]


def test_cjk_glyphs_are_really_drawn_not_tofu():
    for role in ("sans-bold", "sans", "serif-bold"):
        face = composer.font(role, 64)
        tofu = face.getmask("\u0378")  # a code point no font maps: the missing-glyph box
        assert tofu.getbbox() is not None, "the missing-glyph box must be visible to compare"
        for char in "职工迎新春文艺汇演邀请函主办单位时间地点":
            glyph = face.getmask(char)
            assert bytes(glyph) != bytes(tofu) or glyph.size != tofu.size, (role, char)


def test_the_title_is_drawn_into_the_poster():
    blank = compose("poster", (1024, 1024), Overlay(), theme="red")
    titled = compose("poster", (1024, 1024), Overlay(title="职工之家"), theme="red")
    assert ImageStat.Stat(blank).stddev != [0, 0, 0]  # a designed background, not a flat fill
    diff = np.abs(np.asarray(titled, dtype=int) - np.asarray(blank, dtype=int)).sum(axis=2)
    changed = np.argwhere(diff > 60)
    assert len(changed) > 5000  # four large glyphs' worth of ink
    top, bottom = changed[:, 0].min(), changed[:, 0].max()
    assert top > 0.1 * 1024 and bottom < 0.6 * 1024  # in the title's place


def test_a_character_the_font_cannot_draw_is_refused_not_printed_as_a_box():
    with pytest.raises(TextDoesNotFit) as caught:
        check_fits("poster", (1024, 1024), Overlay(title="职工运动会🎉"))
    assert caught.value.field == "title"
    assert "🎉" in caught.value.message and "标题" in caught.value.message


def test_closing_punctuation_never_starts_a_line_nor_opening_brackets_end_one():
    face = composer.font("sans-bold", 40)
    char = face.getlength("职")
    text = "职工之家是职工的家。（温暖）《工会法》「学习」，会员：你好！工会，“维权”；服务……结束"
    for chars_per_line in range(3, 16):
        lines = wrap(text, face, char * chars_per_line + 1)
        assert lines is not None and len(lines) > 1
        assert "".join(lines) == text
        for line in lines:
            assert face.getlength(line) <= char * chars_per_line + 1
            assert line[0] not in NO_LINE_START, (chars_per_line, lines)
            assert line[-1] not in NO_LINE_END, (chars_per_line, lines)


def test_a_title_forced_to_wrap_before_a_full_stop_carries_a_character_along():
    face = composer.font("sans-bold", 40)
    ten = face.getlength("职" * 10) + 1
    lines = wrap("职" * 10 + "。" + "工" * 5, face, ten)
    assert lines is not None and len(lines) == 2
    assert lines[1][0] == "职" and "。" in lines[1]  # the full stop took a character along
    assert lines[0] == "职" * len(lines[0]) and len(lines[0]) < 10


def test_numbers_and_latin_words_stay_whole():
    face = composer.font("sans", 40)
    text = "活动时间2026年12月31日 19:30 地点Union Hall"
    for width in range(200, 700, 37):
        for line in wrap(text, face, width) or []:
            assert not line.startswith(("026", "30", "nion", "all")), line


def test_a_longer_title_shrinks_before_it_wraps_then_wraps():
    slot = composer.Slot("title", "sans-bold", 0.12, 0.05, 3, "title", wrap_below=0.72)
    short = composer.fit(slot, "职工运动会", 860, 123, 51)
    longer = composer.fit(slot, "第十二届职工运动会", 860, 123, 51)
    longest = composer.fit(slot, "第十二届全市职工运动会暨职工健身月活动开幕式", 860, 123, 51)
    assert short and longer and longest
    assert len(short.lines) == len(longer.lines) == 1
    assert longer.size < short.size  # shrunk to stay on one line
    assert len(longest.lines) > 1  # then wrapped
    assert all(composer.font("sans-bold", longest.size).getlength(x) <= 860 for x in longest.lines)


def test_a_title_too_long_for_any_size_is_refused_with_a_clear_message():
    title = "全市职工" * 30
    with pytest.raises(TextDoesNotFit) as caught:
        check_fits("poster", (1024, 1024), Overlay(title=title))
    message = caught.value.message
    assert caught.value.field == "title"
    assert "标题太长" in message and "海报" in message and f"现在有 {len(title)} 个字" in message
    with pytest.raises(TextDoesNotFit) as organiser:
        compose("banner", (1440, 360), Overlay(title="职工运动会", organiser="某某" * 60))
    assert organiser.value.field == "organiser" and "主办单位太长" in organiser.value.message


@pytest.mark.parametrize("field", ["title", "date", "organiser"])
@pytest.mark.parametrize(
    "purpose,size",
    [
        ("poster", (1024, 1024)),
        ("wechat-cover", (900, 383)),
        ("banner", (1440, 360)),
        ("avatar", (512, 512)),
    ],
)
def test_the_length_a_refusal_names_fits_and_one_more_does_not(field, purpose, size):
    with pytest.raises(TextDoesNotFit) as caught:
        check_fits(purpose, size, replace(FULL, **{field: "职" * 300}))
    named = re.search(r"最多 (\d+) 个汉字", caught.value.message)
    assert named is not None
    limit = int(named.group(1))
    assert limit >= 10
    check_fits(purpose, size, replace(FULL, **{field: "职" * limit}))
    with pytest.raises(TextDoesNotFit):
        check_fits(purpose, size, replace(FULL, **{field: "职" * (limit + 1)}))


def test_texts_that_fit_pass_the_request_time_check():
    for purpose, size in SIZES:
        check_fits(purpose, size, FULL)


def wcag(rgb: object) -> Any:
    c = np.asarray(rgb, dtype=float) / 255
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return linear @ np.array([0.2126, 0.7152, 0.0722])


@pytest.fixture
def text_contrasts(monkeypatch):
    """Every text the composer draws, with its worst contrast against the pixels under it."""
    seen: list[tuple[str, float]] = []
    draw_text = composer._draw_tracked

    def measuring(draw, xy, text, face, fill, tracking):
        canvas = draw._image
        if canvas.getchannel("A").getextrema()[0] == 255 and text.strip():  # not a shadow layer
            left, top, right, bottom = face.getbbox(text, anchor="ls")
            box = (xy[0] + left, xy[1] + top, xy[0] + right, xy[1] + bottom)
            under = wcag(np.asarray(canvas.crop(box).convert("RGB")))
            ink = wcag(fill)
            worst = min(
                (max(ink, x) + 0.05) / (min(ink, x) + 0.05) for x in (under.min(), under.max())
            )
            seen.append((text, worst))
        draw_text(draw, xy, text, face, fill, tracking)

    monkeypatch.setattr(composer, "_draw_tracked", measuring)
    return seen


@pytest.mark.parametrize("theme", list(THEMES))
@pytest.mark.parametrize(
    "purpose,size",
    [
        ("poster", (1024, 1536)),
        ("invitation", (1024, 1448)),
        ("banner", (1920, 480)),
        ("wechat-cover", (900, 383)),
    ],
)
def test_every_theme_keeps_text_contrast_at_least_4_5(theme, purpose, size, text_contrasts):
    for seed in range(3):
        compose(purpose, size, FULL, theme=theme, seed=seed)
    assert len(text_contrasts) >= 3 * 5
    low = [(text, round(ratio, 2)) for text, ratio in text_contrasts if ratio < 4.5]
    assert not low


@pytest.mark.parametrize(
    "colours", [("#FFE600",), ("#C8102E", "#F2C94C"), ("#003A8C",), ("#FFFFFF",)]
)
def test_brand_colours_keep_text_contrast(colours, text_contrasts):
    compose("poster", (1024, 1024), FULL, brand=Brand(name="市总工会", colours=colours))
    assert text_contrasts and all(ratio >= 4.5 for _text, ratio in text_contrasts)


def test_overlay_keeps_texts_readable_on_a_bright_busy_image(text_contrasts):
    busy = Image.effect_noise((1024, 1024), 120).convert("RGB").point(lambda v: min(255, v + 90))
    for image in (Image.new("RGB", (1024, 1024), "white"), busy, busy.resize((1920, 480))):
        result = overlay(image, "poster", FULL)
        assert result.size == image.size
    assert len(text_contrasts) >= 3 * 5
    assert all(ratio >= 4.5 for _text, ratio in text_contrasts)


@pytest.mark.parametrize("purpose,size", SIZES)
def test_every_purpose_and_size_composes(purpose, size):
    image = compose(purpose, size, FULL)
    assert (image.mode, image.size) == ("RGB", size)
    assert len(image.getcolors(maxcolors=1 << 20) or []) > 200  # gradients, shapes, text
    assert overlay(Image.new("RGB", size, (40, 90, 160)), purpose, FULL).size == size


def logo_png(colour=(0, 170, 70)) -> bytes:
    logo = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    ImageDraw.Draw(logo).ellipse((0, 0, 199, 199), fill=(*colour, 255))
    out = io.BytesIO()
    logo.save(out, "PNG")
    return out.getvalue()


def logo_green_pixels(image: Image.Image) -> int:
    r, g, b = np.moveaxis(np.asarray(image.convert("RGB"), dtype=int), 2, 0)
    return int(((g > 140) & (r < 60) & (b < 110)).sum())


def test_a_brand_kit_puts_its_logo_in_a_corner_and_its_colours_in_the_background():
    brand = Brand(name="区总工会", colours=("#0B5394",), logo=logo_png())
    image = compose("poster", (1024, 1024), Overlay(title="职工运动会"), brand=brand)
    corner = image.crop((0, 0, 256, 256))
    assert logo_green_pixels(corner) > 2000
    rest = image.crop((256, 256, 1024, 1024))
    assert logo_green_pixels(rest) == 0
    r, _g, b = ImageStat.Stat(image.crop((300, 900, 700, 960))).mean
    assert b > r + 40  # the unit's blue, not the default red


def test_the_brand_name_is_the_organiser_and_never_a_reason_to_refuse():
    plain = compose("poster", (1024, 1024), Overlay(title="职工运动会"), theme="red")
    named = compose(
        "poster",
        (1024, 1024),
        Overlay(title="职工运动会"),
        theme="red",
        brand=Brand(name="市总工会机关工会"),
    )
    footer = (0, 860, 1024, 960)
    assert plain.crop(footer).tobytes() != named.crop(footer).tobytes()
    too_long = Brand(name="某某" * 80)
    compose("banner", (1440, 360), Overlay(title="职工运动会"), brand=too_long)
    check_fits("banner", (1440, 360), Overlay(title="职工运动会"), brand=too_long)


def test_a_broken_logo_is_left_out():
    image = compose(
        "poster",
        (1024, 1024),
        Overlay(title="职工运动会"),
        brand=Brand(logo=b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
    )
    assert image.size == (1024, 1024)


def test_seeds_vary_the_design_and_the_same_seed_repeats_it():
    one = compose("poster", (768, 1024), FULL, seed=1)
    again = compose("poster", (768, 1024), FULL, seed=1)
    other = compose("poster", (768, 1024), FULL, seed=2)
    assert one.tobytes() == again.tobytes()
    assert one.tobytes() != other.tobytes()


def test_posters_composed_on_worker_threads_at_once_come_out_whole():
    from concurrent.futures import ThreadPoolExecutor

    jobs = [("poster", (768, 1024), theme) for theme in THEMES] * 2
    alone = {theme: compose(p, s, FULL, theme=theme).tobytes() for p, s, theme in jobs[:5]}
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda job: compose(job[0], job[1], FULL, theme=job[2]), jobs))
    assert [image.tobytes() for image in together] == [alone[theme] for _p, _s, theme in jobs]


def test_what_the_request_check_accepts_composes_in_every_theme():
    # Latin letters and digits are narrower in one face than in another.
    texts = Overlay(title="Union Day 2026 职工开放日 Welcome", date="2026年12月31日 19:30")
    for purpose, size in [("poster", (1024, 1024)), ("wechat-cover", (900, 383))]:
        check_fits(purpose, size, texts)
        for theme in THEMES:
            compose(purpose, size, texts, theme=theme)

"""What a member can ask for: purposes (each with its allowed sizes), built-in styles, the
overlay texts and the limits of a request. API slugs stay stable; labels are Chinese."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

MAX_PROMPT_CHARS: Final = 1000
MAX_VARIATIONS: Final = 4
# Overlay texts longer than this are refused before the composer measures them.
MAX_TEXT_CHARS: Final = 60


@dataclass(frozen=True)
class Purpose:
    slug: str
    label: str | Promise
    sizes: tuple[str, ...]  # the first is the default

    @property
    def default_size(self) -> str:
        return self.sizes[0]


PURPOSES: Final[dict[str, Purpose]] = {
    p.slug: p
    for p in (
        Purpose("poster", _("海报"), ("1024x1024", "768x1024", "720x1280")),
        Purpose("mobile-poster", _("手机海报"), ("720x1280", "768x1280")),
        Purpose("invitation", _("邀请函"), ("768x1024", "1024x1024")),
        Purpose("banner", _("横幅"), ("1280x720", "1280x768")),
        Purpose("wechat-cover", _("公众号封面"), ("1280x544", "1280x720")),
        Purpose("illustration", _("插画"), ("1024x1024", "1024x768", "768x1024")),
        Purpose("avatar", _("头像"), ("768x768", "1024x1024")),
    )
}


@dataclass(frozen=True)
class Style:
    slug: str
    label: str | Promise
    # Words added to the description sent to the model.
    prompt: str
    # The composer's colour theme for a poster composed without a model (if it has one).
    theme: str


STYLES: Final[dict[str, Style]] = {
    s.slug: s
    for s in (
        Style("festive", _("喜庆红"), "喜庆，中国红与金色，节日氛围", "red"),
        Style("fresh", _("清新"), "清新明亮，柔和的绿色与蓝色", "green"),
        Style("ink", _("水墨国风"), "中国水墨画风格，留白，淡雅", "ink"),
        Style("flat", _("扁平插画"), "扁平化矢量插画，简洁的色块", "orange"),
        Style("photo", _("写实摄影"), "写实摄影风格，自然光，高清细节", "blue"),
        Style("tech", _("科技蓝"), "科技感，深蓝色调，光线与几何线条", "blue"),
    )
}

# The overlay texts a request may carry, in the order a form shows them.
TEXT_FIELDS: Final[dict[str, str | Promise]] = {
    "title": _("标题"),
    "subtitle": _("副标题"),
    "date": _("日期"),
    "place": _("地点"),
    "organiser": _("主办单位"),
}


def purpose_label(slug: str) -> str:
    purpose = PURPOSES.get(slug)
    return str(purpose.label) if purpose else slug


def style_label(slug: str) -> str:
    style = STYLES.get(slug)
    return str(style.label) if style else ""

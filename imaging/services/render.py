"""Draw's only calls into the image pieces (imaging.composer, imaging.files, imaging.labels):
from a model's bytes or from nothing to the labelled file and its thumbnail that are kept."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from imaging import composer, files, labels
from imaging.errors import ImagingError, ImagingErrorCode

UnsafeImage = files.UnsafeImage


@dataclass(frozen=True)
class Rendered:
    data: bytes  # PNG: the file a member downloads
    thumbnail: bytes
    thumbnail_mime: str
    width: int
    height: int


def overlay_texts(texts: dict[str, str]) -> composer.Overlay:
    return composer.Overlay(**{k: v for k, v in texts.items() if k in _OVERLAY_FIELDS})


_OVERLAY_FIELDS = frozenset(composer.Overlay.__dataclass_fields__)


def brand(organiser: str, colours: list[str], logo: bytes | None) -> composer.Brand:
    return composer.Brand(name=organiser, colours=tuple(colours), logo=logo)


def check_texts(purpose: str, width: int, height: int, texts: dict[str, str]) -> None:
    """The composer's verdict at request time: a title it cannot set is refused at once."""
    try:
        composer.check_fits(purpose, (width, height), overlay_texts(texts))
    except composer.TextDoesNotFit as exc:
        raise ImagingError(exc.message, code=ImagingErrorCode.TEXT_DOES_NOT_FIT) from exc


def has_theme(theme: str) -> bool:
    return theme in composer.THEMES


def load(data: bytes) -> Image.Image:
    """An image from untrusted bytes (a provider's answer, an upload): UnsafeImage otherwise."""
    return files.load_untrusted(data)


def _sniff(data: bytes) -> str:
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"\x89PNG"):
        return "image/png"
    return "image/jpeg"


def _rendered(data: bytes, image: Image.Image) -> Rendered:
    thumb = files.thumbnail(image)
    return Rendered(data, thumb, _sniff(thumb), image.width, image.height)


def ai_image(
    data: bytes,
    *,
    purpose: str,
    texts: dict[str, str],
    brand_kit: composer.Brand | None,
    produce_id: str,
) -> Rendered:
    """A model's image: checked, the texts set in a readable band, labelled (visible mark and
    one XMP label, the provider's kept as producer)."""
    image = files.load_untrusted(data)
    dressed = composer.overlay(image, purpose, overlay_texts(texts), brand=brand_kit)
    labelled = labels.label_ai_image(dressed, produce_id=produce_id, source=data)
    return _rendered(labelled, dressed)


def composed(
    purpose: str,
    width: int,
    height: int,
    texts: dict[str, str],
    *,
    theme: str | None,
    brand_kit: composer.Brand | None,
    seed: int,
) -> Rendered:
    """A poster the portal designs itself (no model): no AI label."""
    image = composer.compose(
        purpose,
        (width, height),
        overlay_texts(texts),
        theme=theme if theme and has_theme(theme) else None,
        brand=brand_kit,
        seed=seed,
    )
    return _rendered(labels.finish_composed(image), image)


def read_label(data: bytes) -> dict[str, str] | None:
    return labels.read_label(data)

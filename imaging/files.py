"""Image bytes from outside (a provider's answer, a unit's logo): checked before anything is kept.

A provider may answer HTML (an error page), SVG (script inside), a truncated download or a
decompression bomb (a few kilobytes declaring 20000 × 20000 pixels). `load_untrusted` reads the
container's header first and refuses anything but a whole PNG, JPEG or WebP of a sane size
before a single pixel is decoded.
"""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Iterator
from typing import Final

from django.utils.translation import gettext as _
from PIL import Image, ImageOps

MAX_PIXELS: Final = 40_000_000
MAX_BYTES: Final = 50 * 1024 * 1024
MAX_SIDE: Final = 16_384
FORMATS: Final = ("PNG", "JPEG", "WEBP")
THUMBNAIL_SIDE: Final = 384
THUMBNAIL_CONTENT_TYPE: Final = "image/jpeg"

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"


class UnsafeImage(ValueError):
    """A payload refused as an image: `code` is stable for clients and logs, `message` Chinese."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def sniff(data: bytes) -> str | None:
    """The container named by the first bytes (PNG, JPEG, WEBP), or None for anything else."""
    if data.startswith(_PNG):
        return "PNG"
    if data.startswith(_JPEG):
        return "JPEG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def png_chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(type, data) of each chunk of a PNG, up to IEND; ValueError when the file stops early."""
    pos = len(_PNG)
    while True:
        if pos + 12 > len(data):
            raise ValueError("PNG ends before IEND")
        (length,) = struct.unpack_from(">I", data, pos)
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise ValueError("PNG chunk runs past the end")
        yield kind, data[pos + 8 : pos + 8 + length]
        if kind == b"IEND":
            return
        pos = end


def load_untrusted(data: bytes) -> Image.Image:
    """The first frame of a PNG, JPEG or WebP as a fresh RGB(A) image without metadata.

    Raises UnsafeImage with code `not_an_image`, `image_too_large` or `image_truncated`."""
    kind = sniff(data)
    if kind is None:
        raise UnsafeImage("not_an_image", _("这不是可用的图片（只接受 PNG、JPEG 或 WebP 格式）。"))
    if len(data) > MAX_BYTES:
        raise _too_large()
    if kind == "PNG":
        try:
            for _chunk in png_chunks(data):
                pass
        except ValueError as exc:
            raise _truncated() from exc
    if kind == "WEBP" and len(data) < 8 + int.from_bytes(data[4:8], "little"):
        raise _truncated()  # shorter than its RIFF header says
    try:
        with warnings.catch_warnings():
            # Pillow warns, then raises, far above our own limit; both mean "too large".
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            source = Image.open(io.BytesIO(data), formats=[kind])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_large() from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnsafeImage("not_an_image", _("图片文件无法识别。")) from exc
    with source:
        width, height = source.size
        if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
            raise _too_large()
        if width < 1 or height < 1:
            raise UnsafeImage("not_an_image", _("图片文件无法识别。"))
        try:
            source.seek(0)  # an animated WebP/APNG: its first frame
            source.load()
            upright = ImageOps.exif_transpose(source)
            has_alpha = "A" in upright.getbands() or "transparency" in upright.info
            image = upright.convert("RGBA" if has_alpha else "RGB")
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise _truncated() from exc
    image.info = {}
    return image


def _too_large() -> UnsafeImage:
    return UnsafeImage(
        "image_too_large",
        _("图片过大（最多 %(mp)d 百万像素、单边 %(side)d 像素、%(mb)d MB）。")
        % {"mp": MAX_PIXELS // 1_000_000, "side": MAX_SIDE, "mb": MAX_BYTES // 1024 // 1024},
    )


def _truncated() -> UnsafeImage:
    return UnsafeImage("image_truncated", _("图片文件不完整或已损坏。"))


def flatten(image: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """An RGB image: transparency laid on a plain background."""
    if image.mode == "RGB":
        return image
    rgba = image.convert("RGBA")
    base = Image.new("RGB", rgba.size, background)
    base.paste(rgba, mask=rgba.getchannel("A"))
    return base


def thumbnail(image: Image.Image) -> bytes:
    """A JPEG of at most THUMBNAIL_SIDE pixels a side, for lists and galleries."""
    small = flatten(image).copy()
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()

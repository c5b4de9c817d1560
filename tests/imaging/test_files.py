"""Image bytes from outside: only whole PNG, JPEG or WebP of a sane size get through."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image, ImageFile

from imaging.files import THUMBNAIL_SIDE, UnsafeImage, load_untrusted, thumbnail


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_claiming(width: int, height: int) -> bytes:
    """A few hundred bytes of well-formed PNG that declares a huge canvas."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def refusal(data: bytes) -> str:
    with pytest.raises(UnsafeImage) as caught:
        load_untrusted(data)
    assert caught.value.message  # a Chinese sentence for the member
    return caught.value.code


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail the test if any pixel data is decoded."""

    def boom(self, *args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", boom)


@pytest.mark.usefixtures("no_decoding")
@pytest.mark.parametrize("size", [(20000, 20000), (7000, 7000), (100, 20000)])
def test_a_decompression_bomb_is_refused_from_its_header(size):
    data = png_header_claiming(*size)
    assert len(data) < 1000
    assert refusal(data) == "image_too_large"


def test_a_truncated_png_is_refused():
    data = encoded(Image.effect_noise((300, 200), 60).convert("RGB"), "PNG")
    assert refusal(data[: len(data) // 2]) == "image_truncated"
    assert refusal(data[:-12]) == "image_truncated"  # IEND cut off


def test_a_truncated_jpeg_is_refused():
    data = encoded(Image.effect_noise((300, 200), 60).convert("RGB"), "JPEG")
    assert refusal(data[: len(data) // 2]) == "image_truncated"


@pytest.mark.parametrize(
    "payload",
    [
        b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>",
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
        b'{"error": "quota"}',
        b"",
        encoded(Image.new("RGB", (10, 10)), "GIF"),
        encoded(Image.new("RGB", (10, 10)), "BMP"),
    ],
    ids=["html", "svg-script", "svg", "json", "empty", "gif", "bmp"],
)
def test_anything_but_png_jpeg_webp_is_not_an_image(payload):
    assert refusal(payload) == "not_an_image"


def test_an_animated_image_gives_its_first_frame():
    frames = [Image.new("RGB", (64, 48), colour) for colour in ("red", "blue", "green")]
    data = encoded(frames[0], "PNG", save_all=True, append_images=frames[1:])
    image = load_untrusted(data)
    assert image.size == (64, 48)
    assert image.getpixel((10, 10)) == (255, 0, 0)
    webp = encoded(frames[1], "WEBP", save_all=True, append_images=[frames[0]], lossless=True)
    assert load_untrusted(webp).getpixel((10, 10)) == (0, 0, 255)


def test_a_good_image_loads_without_its_metadata():
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    data = encoded(Image.new("RGB", (120, 80), (10, 200, 30)), "JPEG", exif=exif.tobytes())
    image = load_untrusted(data)
    assert (image.mode, image.size) == ("RGB", (120, 80))
    assert image.info == {}
    rgba = load_untrusted(encoded(Image.new("RGBA", (20, 20), (0, 0, 0, 0)), "PNG"))
    assert rgba.mode == "RGBA"


def test_thumbnail_is_a_small_jpeg_keeping_the_aspect():
    data = thumbnail(Image.new("RGB", (1920, 480), "white"))
    small = Image.open(io.BytesIO(data))
    assert small.format == "JPEG"
    assert small.size == (THUMBNAIL_SIDE, 96)
    assert max(Image.open(io.BytesIO(thumbnail(Image.new("RGBA", (200, 100))))).size) == 200


def test_a_truncated_webp_is_refused():
    data = encoded(Image.effect_noise((300, 200), 60).convert("RGB"), "WEBP")
    assert refusal(data[: len(data) // 2]) == "image_truncated"

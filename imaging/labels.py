"""The labels of an AI image (GB 45438-2025): the visible mark and the one implicit label.

The visible mark is `aigc.VISIBLE_MARK` in a dark pill at the bottom-right corner, its glyphs
at least 5 % of the image's shorter side tall (measured on the glyphs' ink, not the font size).
The implicit label is an XMP packet with the TC260 namespace: in PNG an uncompressed `iTXt`
chunk `XML:com.adobe.xmp`, in JPEG an APP1 segment. A provider's own label (Doubao and
Seedream send one) is kept as the producer's, with the portal as propagator, so the file
carries exactly one label. Every other piece of the provider's metadata (EXIF with GPS, its
ICC profile, text chunks) is dropped: the image is written afresh from its pixels.
"""

from __future__ import annotations

import html
import io
import math
import re
import zlib
from functools import cache
from typing import Final

from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

from imaging import composer
from imaging.files import flatten, png_chunks, sniff
from portal import aigc

XMP_KEYWORD: Final = "XML:com.adobe.xmp"
JPEG_XMP_HEADER: Final = b"http://ns.adobe.com/xap/1.0/\x00"
MARK_SHARE: Final = 0.05  # glyph height / shorter side, the standard's minimum
_MARK_MARGIN: Final = 1.12  # draw a little above the minimum: anti-aliasing eats an edge pixel


def label_ai_image(
    image: Image.Image, *, produce_id: str, source: bytes | None = None, format: str = "PNG"
) -> bytes:
    """The image with the visible mark and exactly one implicit label, as PNG (or JPEG)."""
    label = _provider_label(read_label(source) if source else None, produce_id)
    return _encode(draw_mark(image), format, xmp_packet(aigc.to_json(label)))


def _provider_label(provider: dict[str, str] | None, produce_id: str) -> dict[str, str]:
    """The provider's label with the portal as propagator; our own as producer when the
    provider sent none, or one whose fields are not the printable ASCII the standard wants."""
    if provider and provider.get("ContentProducer"):
        try:
            return aigc.implicit_label(
                provider.get("ProduceID") or produce_id,
                producer=provider["ContentProducer"],
                reserved1=provider.get("ReservedCode1") or None,
                propagate_id=produce_id,
                label=provider.get("Label") or aigc.GENERATED,
            )
        except ValueError:
            pass
    return aigc.implicit_label(produce_id)


def finish_composed(image: Image.Image) -> bytes:
    """A poster the composer made without a model: a plain PNG, no AI label."""
    return _encode(image, "PNG", None)


def read_label(data: bytes) -> dict[str, str] | None:
    """The TC260 label in a PNG, JPEG or WebP file's XMP, or None."""
    for packet in xmp_packets(data):
        label = label_in_xmp(packet)
        if label is not None:
            return label
    return None


def xmp_packet(label_json: str) -> bytes:
    """An XMP packet holding `TC260:AIGC` as an attribute of one rdf:Description."""
    value = html.escape(label_json, quote=True)
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        f'  <rdf:Description rdf:about="" xmlns:TC260="{aigc.XMP_NAMESPACE}"'
        f' TC260:AIGC="{value}"/>\n'
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    ).encode()


def label_in_xmp(packet: bytes) -> dict[str, str] | None:
    """The label in one XMP packet, whatever prefix it binds the TC260 namespace to.

    Read with patterns rather than an XML parser: the packet is untrusted, and all we need is
    one attribute or element value (entity expansion never runs)."""
    text = packet.decode("utf-8", "replace")
    bound = re.search(r'xmlns:([\w.-]+)\s*=\s*["\']' + re.escape(aigc.XMP_NAMESPACE), text)
    if not bound:
        return None
    name = re.escape(bound.group(1)) + r":AIGC"
    found = re.search(name + r'\s*=\s*"([^"]*)"', text) or re.search(
        name + r"\s*=\s*'([^']*)'", text
    )
    if not found:
        found = re.search(r"<" + name + r">([^<]*)</" + name + ">", text)
    return aigc.read_json(html.unescape(found.group(1))) if found else None


def xmp_packets(data: bytes) -> list[bytes]:
    """Every XMP packet a PNG, JPEG or WebP file carries, read from its container only."""
    kind = sniff(data)
    try:
        if kind == "PNG":
            return [p for p in map(_png_xmp, png_chunks(data)) if p is not None]
        if kind == "JPEG":
            return _jpeg_xmp(data)
        if kind == "WEBP":
            return _webp_xmp(data)
    except (ValueError, IndexError):
        return []
    return []


def _png_xmp(chunk: tuple[bytes, bytes]) -> bytes | None:
    kind, body = chunk
    if kind not in (b"iTXt", b"tEXt", b"zTXt"):
        return None
    keyword, _, rest = body.partition(b"\x00")
    if keyword != XMP_KEYWORD.encode():
        return None
    if kind == b"tEXt":
        return rest
    if kind == b"zTXt":
        return zlib.decompress(rest[1:])
    compressed, rest = rest[0], rest[2:]  # flag, method
    _lang, _, rest = rest.partition(b"\x00")
    _translated, _, text = rest.partition(b"\x00")
    if compressed:
        return zlib.decompress(text)
    return text


def _jpeg_xmp(data: bytes) -> list[bytes]:
    packets, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no metadata follows
            break
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        body = data[pos + 4 : pos + 2 + length]
        if marker == 0xE1 and body.startswith(JPEG_XMP_HEADER):
            packets.append(body[len(JPEG_XMP_HEADER) :])
        pos += 2 + length
    return packets


def _webp_xmp(data: bytes) -> list[bytes]:
    packets, pos = [], 12
    while pos + 8 <= len(data):
        kind, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        if kind == b"XMP ":
            packets.append(data[pos + 8 : pos + 8 + size])
        pos += 8 + size + (size & 1)
    return packets


def _encode(image: Image.Image, format: str, xmp: bytes | None) -> bytes:
    """The pixels written afresh (no metadata carried over), with our XMP when given."""
    clean = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    clean.info = {}
    out = io.BytesIO()
    if format.upper() == "PNG":
        info = PngInfo()
        if xmp is not None:
            info.add_itxt(XMP_KEYWORD, xmp.decode(), zip=False)
        clean.save(out, "PNG", pnginfo=info)
        return out.getvalue()
    flatten(clean).save(out, "JPEG", quality=92)
    data = out.getvalue()
    if xmp is None:
        return data
    segment_body = JPEG_XMP_HEADER + xmp
    segment = b"\xff\xe1" + (len(segment_body) + 2).to_bytes(2, "big") + segment_body
    # After SOI and the JFIF APP0 segment, which readers expect first.
    insert = 2
    if data[2:4] == b"\xff\xe0":
        insert = 4 + int.from_bytes(data[4:6], "big")
    return data[:insert] + segment + data[insert:]


def mark_font(short_side: int) -> ImageFont.FreeTypeFont:
    """The bold CJK font at the smallest size whose every mark glyph is ≥ 5 % of `short_side`."""
    return _mark_font(math.ceil(short_side * MARK_SHARE * _MARK_MARGIN))


@cache
def _mark_font(min_height: int) -> ImageFont.FreeTypeFont:
    size = max(8, min_height)
    while True:
        font = composer.font("sans-bold", size)
        if min(_ink_height(font, ch) for ch in aigc.VISIBLE_MARK) >= min_height:
            return font
        size += 1


def _ink_height(font: ImageFont.FreeTypeFont, text: str) -> int:
    _left, top, _right, bottom = font.getbbox(text, anchor="ls")
    return int(bottom - top)


def draw_mark(image: Image.Image) -> Image.Image:
    """The visible mark in a dark translucent pill, bottom-right: white on it reads on any
    background (the pill darkens even white to a contrast above 4.5)."""
    base = image.convert("RGBA")
    width, height = base.size
    short = min(width, height)
    font = mark_font(short)
    left, top, right, bottom = font.getbbox(aigc.VISIBLE_MARK, anchor="ls")
    pad_x, pad_y = round((bottom - top) * 0.45), round((bottom - top) * 0.32)
    margin = max(4, round(short * 0.025))
    box_w, box_h = (right - left) + 2 * pad_x, (bottom - top) + 2 * pad_y
    x1, y1 = width - margin, height - margin
    x0, y0 = x1 - box_w, y1 - box_h
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    draw.rounded_rectangle((x0, y0, x1, y1), radius=box_h // 2, fill=(0, 0, 0, 165))
    draw.text(
        (x0 + pad_x - left, y0 + pad_y - top),
        aigc.VISIBLE_MARK,
        font=font,
        fill=(255, 255, 255, 255),
        anchor="ls",
    )
    marked = Image.alpha_composite(base, layer)
    return marked if "A" in image.getbands() else marked.convert("RGB")

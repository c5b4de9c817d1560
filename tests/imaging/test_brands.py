"""Brand kits: kept by the unit's staff, carried by its members' posters; members' presets."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from imaging.errors import ImagingError
from imaging.models import BrandKit, ImageRequest
from imaging.services import brands, generation
from portal.errors import NotPermitted
from portal.models import AuditAction, AuditEvent
from tests.imaging.conftest import png

pytestmark = pytest.mark.django_db


def test_staff_keep_the_kit_of_their_unit_and_the_units_below(sam, otto, alice, units):
    kit = brands.save_kit(
        sam,
        units["factory"].pk,
        organiser="示范电子厂工会",
        colours=["#c8102e", "#FFD700"],
        logo=png(300, 300),
    )

    assert kit.colours == ["#C8102E", "#FFD700"] and kit.logo.endswith(".png")
    assert AuditEvent.objects.get(action=AuditAction.BRAND_KIT_CHANGED).actor == sam
    with pytest.raises(ImagingError, match="只能管理本单位"):
        brands.save_kit(otto, units["factory"].pk, organiser="x", colours=[])
    with pytest.raises(NotPermitted):
        brands.save_kit(alice, units["factory"].pk, organiser="x", colours=[])


@pytest.mark.parametrize(
    ("colours", "logo"),
    [(["red"], None), (["#123456"] * 5, None), ([], b"<svg xmlns='http://www.w3.org/2000/svg'/>")],
    ids=["not hex", "too many", "svg logo"],
)
def test_bad_colours_and_logos_are_refused(sam, units, colours, logo):
    with pytest.raises(ImagingError):
        brands.save_kit(sam, units["town"].pk, organiser="虎门镇总工会", colours=colours, logo=logo)
    assert not BrandKit.objects.exists()


def test_a_members_posters_carry_the_nearest_kit_up_the_tree(sam, alice, olivia, units):
    brands.save_kit(sam, units["town"].pk, organiser="虎门镇总工会", colours=["#003399"])
    town = brands.brand_for(alice)
    assert town is not None and town.name == "虎门镇总工会"  # factory is below town
    assert brands.brand_for(olivia) is None

    brands.save_kit(
        sam, units["factory"].pk, organiser="示范电子厂工会", colours=[], logo=png(64, 64)
    )

    kit = brands.brand_for(alice)
    assert (
        kit is not None
        and kit.name == "示范电子厂工会"
        and kit.logo is not None
        and kit.logo.startswith(b"\x89PNG")
    )


def test_the_composer_receives_the_kit(sam, alice, units, submit, monkeypatch):
    brands.save_kit(sam, units["factory"].pk, organiser="示范电子厂工会", colours=["#C8102E"])
    seen = {}
    from imaging.services import render

    original = render.composed

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(render, "composed", spy)
    made = submit(alice, texts={"title": "劳动最光荣"})

    assert generation.run(made.pk) == "succeeded"
    assert seen["brand_kit"].name == "示范电子厂工会" and seen["brand_kit"].colours == ("#C8102E",)
    assert ImageRequest.objects.get(pk=made.pk).mode == "composed"


def test_the_brand_page_is_for_staff(client, sam, alice, units):
    client.force_login(alice)
    assert client.get("/images/brand/").status_code == 403
    client.force_login(sam)
    assert client.get("/images/brand/").status_code == 200
    response = client.post(
        "/images/brand/",
        {
            "unit": units["factory"].pk,
            "organiser": "示范电子厂工会",
            "colour": ["#C8102E", ""],
            "logo": SimpleUploadedFile("logo.png", png(120, 120), "image/png"),
        },
    )
    assert response.status_code == 302
    assert BrandKit.objects.get(unit=units["factory"]).logo


def test_a_members_preset_is_applied_to_a_request(alice, bob, submit, draw_model):
    preset = brands.save_preset(
        alice, name="我的红", style="festive", extra="灯笼", negative="文字"
    )

    made = submit(alice, preset_id=preset.pk)

    assert (made.style, made.extra, made.negative_prompt) == ("festive", "灯笼", "文字")
    with pytest.raises(ImagingError):
        submit(bob, preset_id=preset.pk)  # someone else's preset is not found


def test_a_logo_that_is_no_image_is_refused_in_words_about_the_upload(sam, units):
    with pytest.raises(ImagingError) as refused:
        brands.save_kit(
            sam, units["town"].pk, organiser="虎门镇总工会", colours=[], logo=b"%PDF-1.4"
        )
    assert "返回" not in str(refused.value) and "PNG、JPEG 或 WebP" in str(refused.value)

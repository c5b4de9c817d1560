"""The pages a member sees: home, the beta page, enrolling from it, the profile."""

from __future__ import annotations

import logging
import re

import pytest
from django.test import Client

from portal.models import BetaEnrolment, BetaProgramme, User
from portal.services import beta


@pytest.mark.django_db
def test_home_shows_the_three_services_to_everyone(client: Client) -> None:
    page = client.get("/").content.decode()
    for name in ("智能对话", "材料智写", "视觉智创"):
        assert name in page
    assert 'name="viewport"' in page


@pytest.mark.django_db
def test_home_invites_a_visitor_to_sign_in_or_register_and_not_someone_signed_in(
    client: Client, alice: User
) -> None:
    # On a phone the menu is folded away: the page itself leads to signing in.
    page = client.get("/").content.decode()
    invitation = page.split('data-testid="sign-in"')[1].split("</p>")[0]
    assert 'href="/accounts/login/"' in invitation and 'href="/accounts/register/"' in invitation
    client.force_login(alice)
    assert 'data-testid="sign-in"' not in client.get("/").content.decode()


@pytest.mark.django_db
def test_beta_page_shows_places_left_and_invites_anonymous_visitors_to_sign_in(
    client: Client, open_programme: BetaProgramme, alice
) -> None:
    beta.enrol(alice, open_programme)
    page = client.get("/beta/").content.decode()
    assert re.search(r'places-count">1<', page)
    assert "登录后报名" in page


@pytest.mark.django_db
def test_a_verified_member_enrols_from_the_beta_page(
    client: Client, open_programme: BetaProgramme, alice: User
) -> None:
    client.force_login(alice)
    assert "立即报名" in client.get("/beta/").content.decode()
    response = client.post("/beta/ai-beta/enrol/", follow=True)
    page = response.content.decode()
    assert "报名成功" in page and "已获得内测资格" in page
    assert BetaEnrolment.objects.get(user=alice).status == "accepted"


@pytest.mark.django_db
def test_a_full_programme_offers_the_waiting_list(
    client: Client, open_programme: BetaProgramme, alice, bob, units
) -> None:
    from tests import people

    beta.enrol(alice, open_programme)
    beta.enrol(bob, open_programme)
    carol = people.make_user("carol", unit=units["factory"], serial=70)
    client.force_login(carol)
    assert "加入候补" in client.get("/beta/").content.decode()
    page = client.post("/beta/ai-beta/enrol/", follow=True).content.decode()
    assert "候补第 1 位" in page


@pytest.mark.django_db
def test_an_unverified_member_is_told_why_they_cannot_enrol(
    client: Client, open_programme, charlie
) -> None:
    client.force_login(charlie)
    page = client.get("/beta/").content.decode()
    assert "实名认证" in page and "立即报名" not in page
    page = client.post("/beta/ai-beta/enrol/", follow=True).content.decode()
    assert "只有完成实名认证的会员才能报名内测" in page
    assert not BetaEnrolment.objects.exists()


@pytest.mark.django_db
def test_a_member_awaiting_review_is_told_to_wait_not_to_submit_again(
    client: Client, open_programme, charlie
) -> None:
    client.force_login(charlie)
    assert "待所在工会审核" in client.get("/me/").content.decode()

    notice = client.get("/beta/ai-beta/").content.decode()

    assert "正在等待所在工会审核" in notice
    assert "提交认证信息" not in notice and "立即报名" not in notice


@pytest.mark.django_db
def test_a_member_without_real_name_data_is_told_to_ask_their_union(
    client: Client, open_programme, units
) -> None:
    from tests import people

    dora = people.make_user("dora", unit=units["factory"])  # an account without a profile
    client.force_login(dora)
    assert "未登记实名信息" in client.get("/me/").content.decode()

    notice = client.get("/beta/ai-beta/").content.decode()

    assert "您还没有登记实名信息，请联系所在工会办理会员认证。" in notice
    assert "提交认证信息" not in notice


@pytest.mark.django_db
def test_enrolling_from_the_page_needs_a_signed_in_user(client: Client, open_programme) -> None:
    response = client.post("/beta/ai-beta/enrol/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not BetaEnrolment.objects.exists()


@pytest.mark.django_db
def test_profile_shows_the_masked_id_and_never_the_hash(client: Client, alice: User) -> None:
    client.force_login(alice)
    page = client.get("/me/").content.decode()
    assert alice.member_profile.id_masked in page
    assert alice.member_profile.id_hash not in page
    assert "已认证" in page


@pytest.mark.django_db
def test_an_unknown_page_is_answered_in_chinese(client: Client) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404


@pytest.mark.django_db
def test_home_leads_staff_to_writing_and_tells_members_who_writes(
    client: Client, sam: User, alice: User
) -> None:
    client.force_login(sam)
    assert 'href="/writer/"' in client.get("/").content.decode()
    client.force_login(alice)
    page = client.get("/").content.decode()
    assert 'href="/writer/"' not in page
    assert "供工会干部使用" in page


def test_a_browser_asking_for_favicon_ico_gets_the_portals_icon(client: Client) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"].endswith("favicon.svg")
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.django_db
def test_a_refusal_is_logged_as_one_line_without_a_traceback(
    client: Client, alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    client.force_login(alice)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get("/writer/").status_code == 403
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert record.levelname == "WARNING"
    assert record.getMessage() == "Forbidden (Permission denied): /writer/"
    assert record.exc_info is None and "Traceback" not in caplog.text


def _ai_refusal_notice(page: str) -> str:
    return page.split('data-testid="ai-refusal"')[1].split("</p>")[0]


@pytest.mark.django_db
def test_home_tells_a_member_awaiting_review_where_verification_stands(
    client: Client, open_programme: BetaProgramme, charlie: User
) -> None:
    client.force_login(charlie)

    page = client.get("/").content.decode()

    assert "内测期间需获得内测资格" not in page
    notice = _ai_refusal_notice(page)
    assert "完成会员认证后即可使用AI服务。" in notice
    assert "您的实名信息已提交，正在等待所在工会审核" in notice and 'href="/me/"' in notice


@pytest.mark.django_db
def test_home_sends_a_verified_member_without_a_place_to_the_beta(
    client: Client, open_programme: BetaProgramme, alice: User
) -> None:
    open_programme.gates_ai = True
    open_programme.save(update_fields=["gates_ai"])
    client.force_login(alice)

    notice = _ai_refusal_notice(client.get("/").content.decode())

    assert "内测期间需要获得内测名额才能使用AI服务。" in notice and 'href="/beta/"' in notice
    assert "认证" not in notice


@pytest.mark.django_db
def test_home_shows_a_member_who_may_use_ai_that_it_is_open(client: Client, alice: User) -> None:
    client.force_login(alice)

    page = client.get("/").content.decode()

    assert "已开通AI服务" in page and 'data-testid="ai-refusal"' not in page


@pytest.mark.django_db
def test_profile_offers_enrolment_only_to_a_member_who_may_enrol(
    client: Client, open_programme: BetaProgramme, alice: User, charlie: User
) -> None:
    client.force_login(charlie)

    page = client.get("/me/").content.decode()

    assert "去报名" not in page
    assert (
        "只有完成实名认证的会员才能报名内测。"
        "您的实名信息已提交，正在等待所在工会审核，审核通过前无需重复提交。" in page
    )
    client.force_login(alice)
    assert "去报名" in client.get("/me/").content.decode()

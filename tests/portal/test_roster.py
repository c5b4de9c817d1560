"""Roster import: verified members from a CSV, all rows or none; importing twice changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from rest_framework.authtoken.models import Token

from portal.models import AuditAction, AuditEvent, MemberProfile, RosterImport, UnionUnit, User
from portal.services import roster
from tests.people import id_number

HEADER = "username,real_name,id_number,member_no,union_unit,phone\n"
UNIT = "东莞市总工会/虎门镇总工会/某某公司工会"


def write(tmp_path: Path, body: str, name: str = "roster.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes((HEADER + body).encode(encoding))
    return path


def good_rows() -> str:
    return (
        f"zhang3,张三,{id_number(11)},DG001,{UNIT},13800001111\n"
        f"li4,李四,{id_number(12)},DG002,{UNIT},\n"
        f"wang5,王五,{id_number(13)},DG003,东莞市总工会/南城街道总工会,13900002222\n"
    )


@pytest.mark.django_db
def test_import_creates_verified_members_and_missing_units(tmp_path: Path, capsys) -> None:
    call_command("import_roster", str(write(tmp_path, good_rows())))

    assert "3 created" in capsys.readouterr().out
    zhang = User.objects.get(username="zhang3")
    assert zhang.union_unit is not None and zhang.union_unit.path == UNIT
    assert zhang.is_verified_member and not zhang.has_usable_password()
    assert zhang.member_profile.verification_source == "roster"
    assert zhang.member_profile.id_masked == id_number(11)[:4] + "*" * 10 + id_number(11)[-4:]
    assert UnionUnit.objects.get(path="东莞市总工会/虎门镇总工会").children.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.VERIFIED).count() == 3


@pytest.mark.django_db
def test_importing_the_same_file_twice_changes_nothing(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, good_rows())
    call_command("import_roster", str(path))
    before = list(MemberProfile.objects.order_by("pk").values())
    units = UnionUnit.objects.count()
    capsys.readouterr()

    call_command("import_roster", str(path))

    assert "0 created, 0 updated, 3 unchanged" in capsys.readouterr().out
    assert list(MemberProfile.objects.order_by("pk").values()) == before
    assert UnionUnit.objects.count() == units


@pytest.mark.django_db
def test_a_changed_row_updates_that_member_only(tmp_path: Path, capsys) -> None:
    call_command("import_roster", str(write(tmp_path, good_rows())))
    capsys.readouterr()
    changed = good_rows().replace("13800001111", "13800009999")

    call_command("import_roster", str(write(tmp_path, changed, "v2.csv")))

    assert "0 created, 1 updated, 2 unchanged" in capsys.readouterr().out
    assert MemberProfile.objects.get(user__username="zhang3").phone == "13800009999"


@pytest.mark.django_db
def test_a_file_with_bad_rows_imports_none_and_names_each_line(tmp_path: Path, capsys) -> None:
    bad_id = id_number(21)[:17] + ("1" if id_number(21)[17] == "0" else "0")
    body = (
        f"ok1,好人,{id_number(20)},DG010,{UNIT},\n"
        f"bad1,坏号,{bad_id},DG011,{UNIT},\n"
        f"bad2,缺列,{id_number(22)},DG012\n"
        f"bad3,,{id_number(23)},DG013,{UNIT},\n"
        f"bad4,空单位,{id_number(24)},DG014,东莞市总工会//某厂,\n"
        f"ok1,重名,{id_number(25)},DG015,{UNIT},\n"
        f"bad6,坏手机,{id_number(26)},DG016,{UNIT},phone\n"
    )
    path = write(tmp_path, body)

    with pytest.raises(CommandError, match="6处错误"):
        call_command("import_roster", str(path))

    err = capsys.readouterr().err
    for line, reason in [
        (3, "校验位"),
        (4, "应有6列"),
        (5, "真实姓名"),
        (6, "所属工会"),
        (7, "用户名与第2行重复"),
        (8, "手机号"),
    ]:
        assert f"roster.csv:{line}: " in err and reason in err, (line, reason, err)
    assert "roster.csv:2:" not in err
    assert not User.objects.exists()
    assert not UnionUnit.objects.exists()


@pytest.mark.django_db
def test_a_wrong_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("name,id\n张三,1\n", encoding="utf-8")
    with pytest.raises(roster.RosterInvalid) as info:
        roster.parse_roster(path.read_text())
    assert info.value.errors[0].line == 1
    assert "username,real_name" in info.value.errors[0].reason


@pytest.mark.django_db
def test_an_id_number_of_another_account_blocks_the_whole_file(tmp_path: Path, alice: User) -> None:
    body = f"new1,新人,{id_number(30)},DG030,{UNIT},\nimpostor,冒名,{id_number(1)},DG031,{UNIT},\n"
    with pytest.raises(CommandError):
        call_command("import_roster", str(write(tmp_path, body)))
    assert not User.objects.filter(username__in=["new1", "impostor"]).exists()


@pytest.mark.django_db
def test_an_unverified_member_on_the_roster_becomes_verified(tmp_path: Path, charlie: User) -> None:
    profile = charlie.member_profile
    body = (
        f"charlie,{profile.real_name},{id_number(3)},{profile.member_no},"
        "东莞市总工会/虎门镇总工会/示范电子厂工会,13800000000\n"
    )
    call_command("import_roster", str(write(tmp_path, body)))
    charlie.member_profile.refresh_from_db()
    assert charlie.member_profile.is_verified
    # The password chosen at registration proved nobody's identity: the member activates.
    charlie.refresh_from_db()
    assert not charlie.has_usable_password()
    assert AuditEvent.objects.filter(
        action=AuditAction.PASSWORD_RESET_BY_ROSTER, target="charlie"
    ).exists()


@pytest.mark.django_db
def test_a_registration_under_a_roster_name_with_a_stolen_id_gains_nothing(
    tmp_path: Path, units
) -> None:
    """Someone who knows a member's ID number registers under the user name the roster will
    use. The roster verifies that account: the impostor's password must not come with it, and
    the real member activates it with the membership number only they hold."""
    impostor = Client()
    impostor.post(
        "/accounts/register/",
        {
            "username": "wangwu",
            "password": "impostor-pass-123",
            "password_again": "impostor-pass-123",
            "real_name": "王五",
            "id_number": id_number(77),
            "member_no": "FAKE77",
            "union_unit": units["factory"].pk,
            "phone": "13900000077",
        },
    )
    assert (
        impostor.post(
            "/api/v1/auth/token/",
            {"username": "wangwu", "password": "impostor-pass-123"},
            content_type="application/json",
        ).status_code
        == 200
    )
    token = Token.objects.get(user__username="wangwu").key
    impostor.post("/accounts/login/", {"username": "wangwu", "password": "impostor-pass-123"})
    assert impostor.get("/me/").status_code == 200

    body = f"wangwu,王五,{id_number(77)},DG077,{UNIT},13800000077\n"
    call_command("import_roster", str(write(tmp_path, body)))

    wangwu = User.objects.get(username="wangwu")
    assert wangwu.is_verified_member
    assert impostor.get("/me/").status_code == 302  # signed out: its session is over
    signed_in = Client().post(
        "/accounts/login/", {"username": "wangwu", "password": "impostor-pass-123"}
    )
    assert signed_in.status_code == 200  # the form again: the old password is refused
    assert Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 401
    activated = Client().post(
        "/accounts/activate/",
        {
            "member_no": "DG077",
            "id_number": id_number(77),
            "password": "the-real-wang-wu-1",
            "password_again": "the-real-wang-wu-1",
        },
    )
    assert activated.status_code == 302
    assert (
        Client()
        .post("/accounts/login/", {"username": "wangwu", "password": "the-real-wang-wu-1"})
        .status_code
        == 302
    )


@pytest.mark.django_db
def test_excel_gb18030_files_are_read(tmp_path: Path) -> None:
    call_command("import_roster", str(write(tmp_path, good_rows(), encoding="gb18030")))
    assert User.objects.get(username="li4").member_profile.real_name == "李四"


@pytest.mark.django_db
def test_an_empty_roster_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="错误"):
        call_command("import_roster", str(write(tmp_path, "")))


@pytest.mark.django_db
def test_id_numbers_are_stored_only_as_hash_and_mask(tmp_path: Path, caplog) -> None:
    caplog.set_level("DEBUG")
    call_command("import_roster", str(write(tmp_path, good_rows())))
    stored = " ".join(
        str(list(model.objects.values()))
        for model in (MemberProfile, AuditEvent, RosterImport, User, UnionUnit)
    )
    for serial in (11, 12, 13):
        assert id_number(serial) not in stored
        assert id_number(serial) not in caplog.text


@pytest.mark.django_db
def test_the_roster_replaces_an_unverified_registration_holding_its_id(
    tmp_path: Path, units, charlie: User
) -> None:
    body = f"chen7,陈七,{id_number(3)},DG070,东莞市总工会/虎门镇总工会,\n"
    call_command("import_roster", str(write(tmp_path, body)))
    assert User.objects.get(username="chen7").is_verified_member
    charlie.refresh_from_db()
    assert not MemberProfile.objects.filter(user=charlie).exists()
    assert AuditEvent.objects.filter(action=AuditAction.PROFILE_REPLACED, target="charlie").exists()


@pytest.mark.django_db
def test_the_roster_never_takes_over_an_account_registered_by_someone_else(
    tmp_path: Path, charlie: User
) -> None:
    body = f"charlie,真查理,{id_number(90)},DG090,东莞市总工会/虎门镇总工会,\n"
    with pytest.raises(CommandError):
        call_command("import_roster", str(write(tmp_path, body)))
    charlie.refresh_from_db()
    assert charlie.member_profile.member_no != "DG090"
    assert not charlie.member_profile.is_verified


@pytest.mark.django_db
def test_a_staff_account_is_not_turned_into_a_member(tmp_path: Path, sam: User, capsys) -> None:
    body = f"sam,山姆,{id_number(91)},DG091,东莞市总工会/虎门镇总工会,\n"
    with pytest.raises(CommandError):
        call_command("import_roster", str(write(tmp_path, body)))
    assert "工会干部" in capsys.readouterr().err
    assert not MemberProfile.objects.filter(user=sam).exists()


@pytest.mark.django_db
def test_user_names_differing_only_in_case_are_refused(tmp_path: Path, alice: User, capsys) -> None:
    body = f"Alice,爱丽丝,{id_number(92)},DG092,东莞市总工会/虎门镇总工会,\n"
    with pytest.raises(CommandError):
        call_command("import_roster", str(write(tmp_path, body)))
    assert "大小写" in capsys.readouterr().err


@pytest.mark.django_db
def test_a_misspelt_top_unit_does_not_create_a_second_federation(
    tmp_path: Path, units, capsys
) -> None:
    body = f"he8,何八,{id_number(93)},DG093,东筦市总工会/虎门镇总工会,\n"
    with pytest.raises(CommandError):
        call_command("import_roster", str(write(tmp_path, body)))
    assert "顶级工会“东筦市总工会”不存在" in capsys.readouterr().err
    assert UnionUnit.objects.filter(parent=None).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        (f"x,某,{id_number(94)},D1,{'/'.join(['工会'] * 6)},", "层级过多"),
        (f"x,某,{id_number(94)},D1,{UNIT},+{'1' * 20}", "手机号"),
        (f"x,某\x00,{id_number(94)},D1,{UNIT},", "控制字符"),
        (f'x,"某,{id_number(94)},D1,{UNIT},', "列"),
    ],
)
def test_oversized_or_broken_cells_are_reported(tmp_path: Path, cells: str, reason: str) -> None:
    with pytest.raises(roster.RosterInvalid) as info:
        roster.parse_roster(HEADER + cells + "\n")
    assert reason in " ".join(e.reason for e in info.value.errors)


@pytest.mark.django_db
def test_trailing_empty_columns_from_spreadsheets_are_ignored(tmp_path: Path) -> None:
    text = HEADER.rstrip("\n") + ",,\n" + f"kong9,孔九,{id_number(95)},DG095,{UNIT},,,\n"
    assert roster.parse_roster(text)[0].username == "kong9"


@pytest.mark.django_db
def test_utf16_files_are_read(tmp_path: Path) -> None:
    call_command("import_roster", str(write(tmp_path, good_rows(), encoding="utf-16")))
    assert User.objects.filter(username="wang5").exists()


def test_unreadable_bytes_are_refused() -> None:
    with pytest.raises(roster.RosterInvalid, match="错误"):
        roster.decode(b"\xff\x80\x81\xfe\x00\xff" * 10)

"""Content safety: one check for prompts and answers, on an editable list, in one pass."""

from __future__ import annotations

import pytest

from portal import ai
from portal.ai import services
from portal.ai.models import SensitiveTerm


def test_the_seed_list_blocks_and_sends_to_review(db):
    blocked = ai.check_text("哪里能买到冰毒", where="ask.prompt")
    reviewed = ai.check_text("六合彩开奖结果", where="ask.prompt")
    clean = ai.check_text("工会会员有哪些权利？", where="ask.prompt")

    assert blocked.action == "block" and blocked.categories == ["毒品"]
    assert reviewed.action == "review" and [m.term for m in reviewed.matches] == ["六合彩"]
    assert clean.allowed and clean.matches == ()


def test_block_outranks_review_when_both_match(db):
    verdict = ai.check_text("六合彩和冰毒", where="ask.answer")
    assert verdict.action == "block" and len(verdict.matches) == 2


@pytest.mark.parametrize(
    "text",
    [
        "冰 毒",
        "冰*毒",
        "冰\u200b毒",
        "ＡＢＣ冰·毒",
        "冰，毒",
        "冰！！毒",
        "冰\u3000毒",
        "（冰，毒）",
    ],
)
def test_spacing_and_full_width_tricks_do_not_slip_past(db, text):
    assert ai.check_text(text, where="imaging.prompt").action == "block"


def test_a_term_added_by_an_editor_applies_at_the_next_check(
    db, django_capture_on_commit_callbacks
):
    assert ai.check_text("我要举报黑工厂", where="ask.prompt").allowed

    with django_capture_on_commit_callbacks(execute=True):
        services.save_term("黑工厂", category="自定义", action="review")

    assert ai.check_text("我要举报黑工厂", where="ask.prompt").action == "review"


def test_a_disabled_term_no_longer_matches(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        SensitiveTerm.objects.filter(term="冰毒").update(enabled=False)
        services.terms_changed()

    assert ai.check_text("冰毒", where="ask.prompt").allowed


def test_thousands_of_terms_are_matched_in_one_pass(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        SensitiveTerm.objects.bulk_create(
            SensitiveTerm(term=f"违禁词{i:05d}", category="批量", action="block")
            for i in range(5000)
        )
        services.terms_changed()
    text = "正常的一段话，" * 2000 + "违禁词04321"

    verdict = ai.check_text(text, where="writer.answer")

    assert [m.term for m in verdict.matches] == ["违禁词04321"]


def test_an_empty_term_is_refused(db):
    with pytest.raises(services.ConfigurationInvalid):
        services.save_term("  ", category="x")

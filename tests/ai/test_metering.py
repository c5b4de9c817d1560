"""The meter seen by admins: totals per day, feature and model."""

from __future__ import annotations

import pytest
from django.test import Client

from portal import ai
from tests.fakes.server import Behaviour

QUESTION = [{"role": "user", "content": "年休假有几天？"}]


def test_admins_see_totals_per_day_feature_and_model(configure, fake_openai, ada, alice):
    configure("deepseek", f"{fake_openai.url}/v1", use_for=["ask", "writer"], max_retries=0)
    ai.chat(QUESTION, feature="ask", user=alice)
    ai.chat(QUESTION, feature="ask", user=alice)
    list(ai.stream_chat(QUESTION, feature="writer", user=alice))
    fake_openai.then(Behaviour(status=400))
    with pytest.raises(ai.AIError):
        ai.chat(QUESTION, feature="ask", user=alice)
    client = Client()
    client.force_login(ada)

    page = client.get("/admin/ai/usage/summary/").content.decode()

    rows = [line for line in page.split("<tr>") if "deepseek" in line and "fake-chat" in line]
    assert len(rows) == 2  # ask and writer
    ask = next(row for row in rows if "<td>ask</td>" in row)
    cells = [cell.split("</td>")[0] for cell in ask.split("<td>")[1:]]
    assert cells[4:6] == ["3", "1"]  # calls, failures
    assert int(cells[7]) == 2 * len(fake_openai.reply)  # tokens out of the two answers
    assert "调用统计" in page

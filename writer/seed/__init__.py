"""The demo's writing templates (templates.json, in the export format any federation can
import): 活动方案 ×2, 政策报告, 通知, 工作总结, 倡议书, 慰问信, 请示, 会议纪要."""

from __future__ import annotations

import json
from pathlib import Path

from writer.models import WritingTemplate
from writer.services.templates import import_json

SEED = Path(__file__).with_name("templates.json")


def seed_templates() -> int:
    """Load the templates not yet present (an editor's later versions are left alone)."""
    added = 0
    for position, data in enumerate(json.loads(SEED.read_text(encoding="utf-8"))):
        if WritingTemplate.objects.filter(slug=data["slug"]).exists():
            continue
        template = import_json(None, data)
        WritingTemplate.objects.filter(pk=template.pk).update(position=position)
        added += 1
    return added

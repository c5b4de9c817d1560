"""One routing row per feature, and a short seed of the sensitive-word list."""

from django.db import migrations

FEATURES = ("ask", "writer", "imaging", "prompt_rewrite", "embedding")
SEED_TERMS = (
    ("法轮功", "邪教", "block"),
    ("冰毒", "毒品", "block"),
    ("枪支出售", "违禁品", "block"),
    ("代开发票", "违法广告", "block"),
    ("六合彩", "赌博", "review"),
    ("翻墙软件", "违规信息", "review"),
)


def seed(apps, schema_editor):
    FeatureSetting = apps.get_model("ai", "FeatureSetting")
    SensitiveTerm = apps.get_model("ai", "SensitiveTerm")
    for feature in FEATURES:
        FeatureSetting.objects.get_or_create(feature=feature)
    for term, category, action in SEED_TERMS:
        SensitiveTerm.objects.get_or_create(
            term=term, defaults={"category": category, "action": action}
        )


class Migration(migrations.Migration):
    dependencies = [("ai", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]

"""Documents carry an authority level and a date (knowledge/precedence.py); existing documents
get the level and date their title and text suggest."""

from typing import Any

from django.db import migrations, models


def guess_standing(apps: Any, schema_editor: Any) -> None:
    from knowledge.precedence import guess_authority, guess_date

    Document = apps.get_model("knowledge", "Document")
    for document in Document.objects.only("id", "title", "body", "kind").iterator():
        document.authority = guess_authority(document.title, document.body, document.kind)
        document.promulgated_on = guess_date(document.body)
        document.save(update_fields=["authority", "promulgated_on"])


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0007_accuracy_question_sets")]

    operations = [
        migrations.AddField(
            model_name="document",
            name="authority",
            field=models.CharField(
                blank=True,
                choices=[
                    ("law", "法律"),
                    ("judicial", "司法解释"),
                    ("regulation", "行政法规"),
                    ("local_regulation", "地方性法规"),
                    ("department_rule", "部门规章"),
                    ("local_rule", "地方政府规章"),
                    ("union_rule", "工会规章制度"),
                    ("notice", "通知及规范性文件"),
                    ("other", "其他"),
                ],
                default="",
                max_length=20,
                verbose_name="效力层级",
            ),
        ),
        migrations.AddField(
            model_name="document",
            name="promulgated_on",
            field=models.DateField(blank=True, null=True, verbose_name="公布日期"),
        ),
        migrations.RunPython(guess_standing, migrations.RunPython.noop),
    ]

from django.db import migrations


def create_categories(apps, schema_editor):
    from knowledge.models import SEED_CATEGORIES

    Category = apps.get_model("knowledge", "Category")
    for position, (slug, name) in enumerate(SEED_CATEGORIES):
        Category.objects.get_or_create(slug=slug, defaults={"name": name, "position": position})


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0002_documents_segments_faq_lexicon_index")]

    operations = [migrations.RunPython(create_categories, migrations.RunPython.noop)]

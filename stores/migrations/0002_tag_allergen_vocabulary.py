"""The shared vocabularies: dish tags and the allergens menus declare."""

from django.db import migrations

TAGS = [
    ("light_meal", "轻食", "Light meal"),
    ("vegetarian", "素食", "Vegetarian"),
    ("spicy", "辣", "Spicy"),
    ("halal", "清真", "Halal"),
    ("low_sugar", "低糖", "Low sugar"),
    ("low_salt", "少盐", "Low salt"),
    ("signature", "招牌", "Signature"),
    ("new", "新品", "New"),
]

ALLERGENS = [
    ("gluten", "麸质", "Gluten"),
    ("crustaceans", "甲壳类", "Crustaceans"),
    ("eggs", "蛋类", "Eggs"),
    ("fish", "鱼类", "Fish"),
    ("peanuts", "花生", "Peanuts"),
    ("soy", "大豆", "Soy"),
    ("milk", "乳制品", "Milk"),
    ("tree_nuts", "坚果", "Tree nuts"),
    ("sesame", "芝麻", "Sesame"),
    ("celery", "芹菜", "Celery"),
    ("mustard", "芥末", "Mustard"),
    ("sulphites", "亚硫酸盐", "Sulphites"),
    ("molluscs", "软体动物", "Molluscs"),
]


def add_vocabulary(apps, schema_editor):
    for model_name, rows in (("Tag", TAGS), ("Allergen", ALLERGENS)):
        model = apps.get_model("stores", model_name)
        for code, name_zh, name_en in rows:
            model.objects.update_or_create(code=code, defaults={"name_zh": name_zh, "name_en": name_en})


def remove_vocabulary(apps, schema_editor):
    for model_name, rows in (("Tag", TAGS), ("Allergen", ALLERGENS)):
        model = apps.get_model("stores", model_name)
        model.objects.filter(code__in=[code for code, _zh, _en in rows]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("stores", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(add_vocabulary, remove_vocabulary),
    ]

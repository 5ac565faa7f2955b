"""Our Chinese catalogue must not change what Django's own screens say: a msgid of ours that
Django's admin or auth also uses, translated differently, would relabel the admin everywhere
(it once turned the admin's "Close" button into "close the payment" and its "Go" into "switch").
Words of ours that share a Django msgid take a context instead (``pgettext``)."""

from __future__ import annotations

from pathlib import Path

import django
from django.utils import translation

ROOT = Path(__file__).resolve().parents[2]
DJANGO = Path(django.__file__).resolve().parent
CATALOGUES = [DJANGO / "contrib/admin/locale/zh_Hans/LC_MESSAGES/django.po",
              DJANGO / "contrib/auth/locale/zh_Hans/LC_MESSAGES/django.po",
              DJANGO / "conf/locale/zh_Hans/LC_MESSAGES/django.po"]
# Ours on purpose, and meaning the same as Django's: a better wording, not another word.
SAME_MEANING = {"object id", "Page not found", "Log out", "Filter", "English", "staff status", "active",
                "date joined", "Order", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Monday", "Tuesday",
                "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}


def _entries(path: Path) -> dict[str, str]:
    """msgid -> msgstr of the context-free, singular entries of a .po file."""
    import json

    entries = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith("#")]
        if any(line.startswith(("msgctxt", "msgid_plural")) for line in lines):
            continue
        parts: dict[str, list[str]] = {"msgid": [], "msgstr": []}
        current = None
        for line in lines:
            for key in parts:
                if line.startswith(key + " "):
                    current, line = key, line[len(key) + 1:]
            if current and line.startswith('"'):
                parts[current].append(json.loads(line))
        msgid = "".join(parts["msgid"])
        if msgid:
            entries[msgid] = "".join(parts["msgstr"])
    return entries


def test_our_catalogue_does_not_relabel_djangos_screens():
    ours = _entries(ROOT / "locale/zh_Hans/LC_MESSAGES/django.po")
    clashes = []
    for catalogue in CATALOGUES:
        for msgid, theirs in _entries(catalogue).items():
            if theirs and msgid in ours and ours[msgid] != theirs and msgid not in SAME_MEANING:
                clashes.append(f"{msgid!r}: ours {ours[msgid]!r}, Django's {theirs!r}")
    assert not clashes, "give these a context (pgettext):\n" + "\n".join(clashes)


def test_the_admin_buttons_keep_djangos_words_and_ours_keep_theirs():
    with translation.override("zh-hans"):
        assert [translation.gettext(word) for word in ("Close", "Change", "Go", "Today", "None")] == [
            "关闭", "修改", "执行", "今天", "无"]
        assert translation.pgettext("opening hours", "Today") == "今日营业"
        assert translation.pgettext("language switch", "Go") == "切换"

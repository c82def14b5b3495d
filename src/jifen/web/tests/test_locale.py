"""The English catalog is complete, compiled, and in step with the Chinese source strings."""

from pathlib import Path

from django.conf import settings
from django.utils import translation

CATALOG = Path(settings.LOCALE_PATHS[0]) / "en" / "LC_MESSAGES" / "django.po"


def test_every_msgid_has_an_english_translation():
    lines = CATALOG.read_text(encoding="utf-8").splitlines()
    untranslated = []
    header_end = lines.index("")
    for number, line in enumerate(lines[header_end:], start=header_end):
        # An empty msgstr not continued on the next line is an untranslated entry.
        if line.startswith("msgstr") and line.endswith(' ""'):
            following = lines[number + 1] if number + 1 < len(lines) else ""
            if not following.startswith('"'):
                untranslated.append(lines[number - 1])
    assert untranslated == []
    assert "#, fuzzy" not in CATALOG.read_text(encoding="utf-8")


def test_compiled_catalog_is_used():
    with translation.override("en"):
        assert translation.gettext("转赠成功。") == "Transfer complete."
        assert translation.pgettext("history filter", "转赠") == "Transfers"
        assert translation.gettext("%(points)s 积分将于 %(date)s 过期") == (
            "%(points)s points expire on %(date)s"
        )
    with translation.override("zh-hans"):
        assert translation.gettext("转赠成功。") == "转赠成功。"

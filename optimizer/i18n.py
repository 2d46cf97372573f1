"""Chinese and English: the message catalogue (gettext), the language in force, money units.

Why gettext: planners read Chinese first, researchers often English; a standard catalogue
(`optimizer/locale/<lang>/LC_MESSAGES/optimizer.po`, extracted and compiled with Babel)
keeps every message translatable and testable, where dictionaries in the code drift.

How to write a message: `_("{n} townships changed").format(n=n)` — placeholders by name,
never an f-string inside `_()` (the extractor cannot see it and the translator cannot
reorder it). `ngettext(singular, plural, n)` for counts; `N_("...")` marks a module-level
constant for extraction, translated later where it is shown with `_(CONSTANT)`.

The language is chosen once per process: `--lang zh|en`, else the locale environment
(`LANGUAGE`, `LC_ALL`, `LC_MESSAGES`, `LANG`: anything starting with `zh` means Chinese),
else English. Dask workers inherit it through `set_language` in their setup.
"""

from __future__ import annotations

import gettext
import os
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "optimizer"
LANGUAGES = ("zh", "en")

_state: dict[str, object] = {"lang": "en", "translations": gettext.NullTranslations()}


def default_language() -> str:
    """The language the environment asks for: 'zh' or 'en'."""
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def set_language(lang: str | None = None) -> str:
    """Switch every later `_()` to `lang` ('zh' or 'en'; None: from the environment)."""
    lang = (lang or default_language()).lower()
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: use one of {', '.join(LANGUAGES)}")
    if lang == "en":  # the source language: messages are written in English
        translations: gettext.NullTranslations = gettext.NullTranslations()
    else:
        translations = gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)
    _state["lang"] = lang
    _state["translations"] = translations
    return lang


def language() -> str:
    """The language in force ('zh' or 'en')."""
    return str(_state["lang"])


def _(message: str) -> str:
    """The message in the language in force."""
    return _state["translations"].gettext(message)  # type: ignore[union-attr]


def ngettext(singular: str, plural: str, n: int) -> str:
    """Singular or plural form for a count, in the language in force."""
    return _state["translations"].ngettext(singular, plural, n)  # type: ignore[union-attr]


def N_(message: str) -> str:
    """Mark a constant for extraction without translating it yet."""
    return message


set_language()

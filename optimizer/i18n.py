"""Chinese and English: the message catalogue (gettext), the language in force, money units.

Why gettext: planners read Chinese first, researchers often English; a standard catalogue
(`optimizer/locale/<lang>/LC_MESSAGES/optimizer.po`, extracted and compiled with Babel)
keeps every message translatable and testable, where dictionaries in the code drift.

How to write a message: `_("{n} townships changed").format(n=n)` — placeholders by name,
never an f-string inside `_()` (the extractor cannot see it and the translator cannot
reorder it). `ngettext(singular, plural, n)` for counts; `N_("...")` marks a module-level
constant for extraction, translated later where it is shown with `_(CONSTANT)`;
`NC_(context, "...")` does the same for an English word that needs different Chinese in
different places (column labels: the context is the column name), read back with
`pgettext` or `translate(message, lang, context)`.

Money: `--units cn` writes money in terminal tables and reports in 万元, or 亿元 from 1亿
up (`money_scale`), as Chinese planning documents do; CSV and GeoPackage columns keep
yuan, since their names carry the unit and scripts read them.

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

_state: dict[str, object] = {"lang": "en", "translations": gettext.NullTranslations(), "units": "yuan"}


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


def pgettext(context: str, message: str) -> str:
    """The message in the language in force, where the same English needs another word by `context`."""
    return _state["translations"].pgettext(context, message)  # type: ignore[union-attr]


def NC_(context: str, message: str) -> str:
    """Mark a constant with its context for extraction (translated later with `pgettext` or `translate`)."""
    return message


_catalogues: dict[str, gettext.NullTranslations] = {}


def translate(message: str, lang: str, context: str | None = None) -> str:
    """The message in `lang` whatever the language in force.

    Why: a map or a workbook is labelled in both languages at once ("农民收入 (farmers'
    income, yuan/yr)"), so its writer asks the Chinese catalogue explicitly.
    """
    if lang == "en":
        return message
    if lang not in _catalogues:
        _catalogues[lang] = gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)
    cat = _catalogues[lang]
    return cat.pgettext(context, message) if context is not None else cat.gettext(message)


#: Money units: "yuan" (the default, every figure in yuan) or "cn" (万元 / 亿元).
UNITS = ("yuan", "cn")
_MONEY_UNITS = {
    # (factor, per year?) → the unit's words, in English msgids translated to 元, 万元, 亿元
    (1.0, True): N_("yuan/yr"), (1.0, False): N_("yuan"),
    (1e4, True): N_("10,000 yuan/yr"), (1e4, False): N_("10,000 yuan"),
    (1e8, True): N_("100 million yuan/yr"), (1e8, False): N_("100 million yuan"),
}


def set_units(units: str = "yuan") -> str:
    """Money in terminal tables and reports from now on: "yuan" or "cn" (万元/亿元); files keep yuan."""
    units = units.lower()
    if units not in UNITS:
        raise ValueError(f"unknown money units {units!r}: use one of {', '.join(UNITS)}")
    _state["units"] = units
    return units


def units() -> str:
    """The money units in force ("yuan" or "cn")."""
    return str(_state["units"])


def money_scale(values: object, per_year: bool = True, units: str = "yuan") -> tuple[float, str, int]:
    """(factor, unit words, decimals) for money figures shown together.

    `units="yuan"`: yuan, whole numbers. `units="cn"`: 万元 with two decimals, or 亿元
    when the largest figure is 1亿 (1e8 yuan) or more, as Chinese planning documents write.
    """
    if units not in UNITS:
        raise ValueError(f"unknown money units {units!r}: use one of {', '.join(UNITS)}")
    if units == "yuan":
        return 1.0, _(_MONEY_UNITS[(1.0, per_year)]), 0
    finite = [abs(float(v)) for v in values if v is not None and float(v) == float(v)]  # type: ignore[arg-type]
    factor = 1e8 if finite and max(finite) >= 1e8 else 1e4
    return factor, _(_MONEY_UNITS[(factor, per_year)]), 2


set_language()

"""Extract, merge and compile the message catalogue (Babel), in one command.

    python scripts/update_catalogue.py          # after adding or changing a message
    python scripts/update_catalogue.py --check  # what the tests run: exit 1 if anything is stale

Steps, the same as `pybabel extract -F babel.cfg -k NC_:1c,2` / `update` / `compile`:

1. extract every `_()`, `ngettext()`, `N_()` and `NC_()` of optimizer/**.py and of the report
   templates (babel.cfg says where), and the help texts of `optimizer --help` and of
   every command, into optimizer/locale/optimizer.pot;
2. merge it into optimizer/locale/zh/LC_MESSAGES/optimizer.po: new messages arrive with
   an empty msgstr (or, when a similar one existed, a fuzzy guess to review), removed
   ones are dropped;
3. compile optimizer.mo from the .po (fuzzy and empty entries are left out, so they show
   in English until translated).

Why a script rather than the three pybabel commands: the files are written without line
numbers and with a fixed header date, so they change only when a message does and a
test can compare them with what the code holds. Babel is a test/dev dependency only: the
compiled .mo is committed and shipped as package data.

After running it, translate the messages it lists as untranslated or fuzzy in the .po
(a fuzzy entry: check the guess, then delete its `#, fuzzy` line) and run it again.
"""

from __future__ import annotations

import argparse
import io
import sys
from datetime import datetime, timezone
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIR = ROOT / "optimizer" / "locale"
POT = LOCALE_DIR / "optimizer.pot"
LANGS = ("zh",)
PROJECT = "karst-layout-optimizer"
HEADER = dict(project=PROJECT, version="", charset="utf-8", fuzzy=False, copyright_holder="the project's authors",
              msgid_bugs_address="the project's issue tracker")
#: What the .po's header comment says (Babel's default asks for names and e-mails).
HEADER_COMMENT = ("# {lang} messages of karst-layout-optimizer (石漠化地区产业布局优化).\n"
                  "# Generated and merged by scripts/update_catalogue.py; edit the msgstr lines only.")
#: A fixed date in the headers, so that the files change only when a message does.
FIXED_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / "optimizer.po"


def mo_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / "optimizer.mo"


def extract() -> Catalog:
    """The template catalogue: every message the code and the templates hold now."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    pot = Catalog(**HEADER, creation_date=FIXED_DATE, revision_date=FIXED_DATE,
                  header_comment=HEADER_COMMENT.format(lang="Template for the"))
    keywords = {**DEFAULT_KEYWORDS, "NC_": ((1, "c"), 2)}  # NC_(context, message), optimizer/i18n.py
    for filename, lineno, message, comments, context in extract_from_dir(str(ROOT), method_map, options_map,
                                                                          keywords=keywords):
        pot.add(message, None, [(filename.replace("\\", "/"), lineno)], auto_comments=comments, context=context)
    # The command line's --help: Typer holds it as English docstrings and help= strings,
    # which optimizer.cli.common.translate_help swaps for their translation.
    import typer

    from optimizer.cli import app
    from optimizer.cli.common import help_texts

    for text in help_texts(typer.main.get_command(app)):
        pot.add(text, None, [("optimizer/cli (--help)", 0)])
    return pot


def merged(pot: Catalog, lang: str) -> Catalog:
    """The language's catalogue brought up to the template (translations kept)."""
    path = po_path(lang)
    if path.exists():
        with open(path, "rb") as f:
            po = read_po(f, locale=lang, domain="optimizer")
    else:
        po = Catalog(locale=lang, domain="optimizer", **HEADER, header_comment=HEADER_COMMENT.format(lang=lang))
    po.update(pot, update_header_comment=False, update_creation_date=True)
    po.revision_date = FIXED_DATE
    po.last_translator = "the project's authors"
    po.language_team = f"{lang} (the project's authors)"
    po.fuzzy = False
    po.obsolete.clear()  # removed messages: dropped (git keeps their history)
    return po


def po_bytes(catalog: Catalog) -> bytes:
    buf = io.BytesIO()
    write_po(buf, catalog, width=100, sort_output=True, include_lineno=False, ignore_obsolete=True)
    return buf.getvalue()


def mo_bytes(catalog: Catalog) -> bytes:
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    return buf.getvalue()


def compiled(lang: str) -> bytes:
    """The .mo that the committed .po compiles to."""
    with open(po_path(lang), "rb") as f:
        return mo_bytes(read_po(f, locale=lang, domain="optimizer"))


def untranslated(catalog: Catalog) -> list[str]:
    """Messages without a usable translation (empty or fuzzy)."""
    missing = []
    for m in catalog:
        if not m.id:
            continue
        strings = m.string if isinstance(m.string, (list, tuple)) else [m.string]
        if m.fuzzy or not all(strings):
            missing.append(m.id if isinstance(m.id, str) else m.id[0])
    return missing


def outputs() -> dict[Path, bytes]:
    """Every catalogue file as the code and the translations make it now."""
    pot = extract()
    files = {POT: po_bytes(pot)}
    for lang in LANGS:
        text = po_bytes(merged(pot, lang))
        files[po_path(lang)] = text
        # compiled from the text written, so that the .mo is exactly what the .po compiles to
        files[mo_path(lang)] = mo_bytes(read_po(io.BytesIO(text), locale=lang, domain="optimizer"))
    return files


def _meaning(path: Path, data: bytes) -> object:
    """What a catalogue file says, ignoring how Babel's version lays it out (headers, wrapping)."""
    if path.suffix == ".mo":
        import gettext

        catalog = gettext.GNUTranslations(io.BytesIO(data))._catalog  # type: ignore[attr-defined]
        return sorted((repr(k), v) for k, v in catalog.items() if k != "")
    cat = read_po(io.BytesIO(data))
    return sorted((repr(m.context), repr(m.id), repr(m.string), m.fuzzy, sorted({f for f, _ in m.locations}))
                  for m in cat if m.id)


def stale_files() -> list[Path]:
    """Catalogue files whose messages differ from what the code and the .po make now."""
    return [path for path, data in outputs().items()
            if not path.exists() or _meaning(path, path.read_bytes()) != _meaning(path, data)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    stale = []
    for path, data in outputs().items():
        if not path.exists() or _meaning(path, path.read_bytes()) != _meaning(path, data):
            stale.append(path)
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
    for lang in LANGS:
        with open(po_path(lang), "rb") if po_path(lang).exists() else io.BytesIO(b"") as f:
            missing = untranslated(read_po(f, locale=lang))
        for msg in missing:
            print(f"{lang}: not translated yet: {msg!r}")
    rel = [str(p.relative_to(ROOT)) for p in stale]
    if args.check:
        if rel:
            print("out of date: " + ", ".join(rel) + " (run python scripts/update_catalogue.py)")
        return 1 if rel else 0
    print(("updated: " + ", ".join(rel)) if rel else "catalogue up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())

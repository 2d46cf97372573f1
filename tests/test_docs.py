"""The README and docs/ paste no machine paths and name no file that is not there.

Why: pasted output once read `/tmp/wi/fuchuan/…` (a path on the machine that made the
docs), and a reader who copies a command from a page must find the files it names. The
docs are run from the repository root with the default `results/` folder, so pasted paths
read `results/fuchuan/<run id>/…`; files the pages point to (`docs/…`, `instances/…`, and
every relative Markdown link or image) must exist in the repository.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: An absolute path on the machine that ran the commands (not a URL's path, not `~/`).
MACHINE_PATH = re.compile(r"(?<![\w.~:/-])/(?:tmp|work|root|home)/")
#: `[text](target)` and `![alt](target "title")`.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
#: A repository path written in the text, a code span or a command: docs/… or instances/….
REPO_PATH = re.compile(r"(?<![\w./<-])((?:docs|instances)/[\w./+-]*)")


def pages() -> list[Path]:
    """The README and every Markdown page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def problems(page: Path, root: Path = ROOT) -> list[str]:
    """Every machine path and every missing file that `page` names, as 'file:line: what'."""
    found: list[str] = []
    rel = page.relative_to(root) if page.is_relative_to(root) else page
    for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
        for m in MACHINE_PATH.finditer(line):
            found.append(f"{rel}:{n}: machine path {line[m.start():].split()[0]!r}")
        for m in LINK.finditer(line):
            target = m.group(1).split("#", 1)[0]
            if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target):  # anchor, http:, mailto:
                continue
            if not (page.parent / target).exists():
                found.append(f"{rel}:{n}: link to missing file {target!r}")
        for m in REPO_PATH.finditer(line):
            path = m.group(1).rstrip(".,:;")
            after = line[m.end():m.end() + 1]
            if after in ("<", "*", "{", "…") or path.endswith("-"):  # a pattern, not a file
                continue
            if not (root / path).exists():
                found.append(f"{rel}:{n}: names missing file {path!r}")
    return found


def test_docs_paste_no_machine_path_and_name_only_files_that_exist():
    found = [p for page in pages() for p in problems(page)]
    assert not found, "\n".join(found)


def test_the_check_finds_what_it_looks_for(tmp_path):
    """The check itself: each kind of mistake in a made-up page is reported, with its line."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "instances" / "x").mkdir(parents=True)
    (tmp_path / "instances" / "x" / "x.yaml").write_text("", encoding="utf-8")
    (tmp_path / "docs" / "pic.png").write_bytes(b"")
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "Results: /tmp/wi/fuchuan/20261127-111756-afd3ea\n"          # 1: machine path
        "see [the picture](pic.png) and ![gone](img/gone.png)\n"      # 2: one missing image
        "`optimizer solve instances/x/x.yaml` and instances/x/y.csv\n"  # 3: one missing file
        "`instances/<name>/` and https://example.org/tmp/x are fine\n"  # 4: patterns, URLs
        "/work/main/.venv and /root/.pyenv and /home/me\n",          # 5: three machine paths
        encoding="utf-8")  # fmt: skip
    found = problems(page, root=tmp_path)
    assert [f.split(":")[1] for f in found] == ["1", "2", "3", "5", "5", "5"], found
    assert "img/gone.png" in found[1] and "instances/x/y.csv" in found[2]


def test_shipped_plan_files_are_the_ones_the_page_shows():
    """docs/gep-and-evaluate.md shows the example plans; the shipped files must say the same."""
    page = (ROOT / "docs" / "gep-and-evaluate.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```csv\n(.*?)\n```", page, flags=re.S)
    plans = sorted((ROOT / "instances" / "fuchuan" / "plans").glob("*.csv"))
    assert {p.name for p in plans} >= {"county_draft.csv", "typo_plan.csv", "citrus_everywhere.csv"}
    for plan in plans:
        assert plan.read_text(encoding="utf-8").strip() in blocks, f"{plan.name} differs from the page"
        assert f"instances/fuchuan/plans/{plan.name}" in page


#: A line git writes into a file whose merge it could not finish.
CONFLICT_MARKER = re.compile(r"^(?:<{7}|>{7})(?: |$)|^={7}$")


def test_no_merge_conflict_left_in_pages_or_code():
    """A rebase once left `<<<<<<< HEAD` in docs/model.md; nothing would have read it as wrong."""
    files = [*pages(), *sorted((ROOT / "optimizer").rglob("*.py")), *sorted((ROOT / "tests").glob("*.py")),
             *sorted((ROOT / "benchmarks").glob("*.py")), ROOT / "pyproject.toml"]
    found = [f"{f.relative_to(ROOT)}:{n}" for f in files
             for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), start=1) if CONFLICT_MARKER.match(line)]
    assert not found, found
    assert CONFLICT_MARKER.match("<<<<<<< HEAD") and CONFLICT_MARKER.match("=======")
    assert not CONFLICT_MARKER.match("======= not a marker") and not CONFLICT_MARKER.match("<<<<<<<< x")

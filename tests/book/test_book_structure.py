"""The chapters' textbook structure and the bibliography style, checked on the sources (no build needed)."""

import importlib.util
import re

import pytest
import yaml
from pybtex.database import parse_file

from autograder.course import REPO_ROOT

BOOK = REPO_ROOT / "book"
CHAPTERS = sorted(path for path in BOOK.glob("[0-9][0-9]_*.md"))


def test_every_chapter_of_the_table_of_contents_is_checked():
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text())
    numbered = [entry["file"] for entry in toc["chapters"] if re.match(r"\d\d_", entry["file"])]
    assert [path.stem for path in CHAPTERS] == numbered and len(numbered) >= 7


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_chapter_has_goals_first_then_summary_and_further_reading(chapter):
    text = chapter.read_text()
    title = text.index("\n# ")
    goals = text.index(":::{admonition} Learning goals")
    first_section = text.index("\n## ")
    assert title < goals < first_section, "the learning goals come right after the title"
    sections = re.findall(r"^## (.+)$", text, flags=re.MULTILINE)
    assert sections.index("Summary") < sections.index("Further reading")
    further = text[text.index("## Further reading"):]
    items = re.findall(r"^- .+?(?=^- |\Z)", further, flags=re.MULTILINE | re.DOTALL)
    assert len(items) >= 3 and all("{cite}" in item and ":" in item for item in items), "each item: a source and why"


def test_algorithm_boxes_exist_and_are_referenced():
    text = "\n".join(path.read_text() for path in CHAPTERS)
    for label in ("alg-value-iteration", "alg-partition-refinement", "alg-ferns-fixed-point", "alg-sac-update",
                  "alg-deepmdp-update"):
        assert f":label: {label}" in text
        assert f"{{prf:ref}}`{label}`" in text, f"{label} is never referenced"
    for label in re.findall(r":label: ((?:thm|prop|def|alg)-[\w-]+)", text):
        assert len(re.findall(rf":label: {label}$", text, flags=re.MULTILINE)) == 1, f"duplicate label {label}"


def test_sphinx_proof_is_pinned_and_enabled():
    requirements = (REPO_ROOT / "requirements.txt").read_text()
    assert re.search(r"^sphinx-proof==[\d.]+$", requirements, flags=re.MULTILINE)
    config = yaml.safe_load((BOOK / "_config.yml").read_text())
    assert "sphinx_proof" in config["sphinx"]["extra_extensions"]
    assert config["sphinx"]["config"]["bibtex_reference_style"] == "label"
    assert ":style: authoryear" in (BOOK / "bibliography.md").read_text()


def test_author_year_labels_are_unique_and_readable():
    path = BOOK / "_ext" / "author_year_bibliography.py"
    spec = importlib.util.spec_from_file_location("author_year_bibliography", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    entries = parse_file(str(BOOK / "references.bib")).entries
    style = module.AuthorYearStyle()
    sorted_entries = style.sort(list(entries.values()))
    keys = [entry.key for entry in sorted_entries]
    labels = dict(zip(keys, list(style.label_style.format_labels(sorted_entries)), strict=True))
    assert len(set(labels.values())) == len(labels)
    assert labels["gelada2019"] == "Gelada et al. 2019"
    assert {labels["haarnoja2018"], labels["haarnoja2018b"]} == {"Haarnoja et al. 2018a", "Haarnoja et al. 2018b"}
    assert labels["towers2024"] == "Towers et al. 2024"  # BibTeX's "and others"
    assert labels["muller1997"] == "Müller 1997"  # LaTeX accents rendered
    assert labels["sutton2018"] == "Sutton and Barto 2018"

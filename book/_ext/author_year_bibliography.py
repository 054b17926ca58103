"""Author-year labels for the bibliography ("Gelada et al. 2019", "Haarnoja et al. 2018a"), so that the list and
the in-text citations (``bibtex_reference_style: label``) use one style. Select it with ``:style: authoryear``."""

from collections import Counter, defaultdict
from string import ascii_lowercase

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.plain import Style as PlainStyle  # sorted by author, year, title
from pybtex.style.labels import BaseLabelStyle


def _surname(person) -> str:
    name = " ".join(person.last_names) or " ".join(person.first_names)
    return Text.from_latex(name).render_as("text")


class AuthorYearLabelStyle(BaseLabelStyle):
    """``Surname YEAR``, ``A and B YEAR`` or ``A et al. YEAR``; equal labels get the suffixes a, b, ..."""

    def format_label(self, entry) -> str:
        names = [_surname(p) for p in entry.persons.get("author", entry.persons.get("editor", []))]
        if "others" in names[1:]:  # BibTeX's "and others"
            names = [names[0], "", ""]
        who = names[0] if len(names) == 1 else " and ".join(names) if len(names) == 2 else f"{names[0]} et al."
        return f"{who} {entry.fields.get('year', 'n.d.')}"

    def format_labels(self, sorted_entries):
        labels = [self.format_label(entry) for entry in sorted_entries]
        counts, seen = Counter(labels), defaultdict(int)
        for label in labels:
            if counts[label] > 1:
                yield label + ascii_lowercase[seen[label]]
                seen[label] += 1
            else:
                yield label


class AuthorYearStyle(PlainStyle):
    default_label_style = AuthorYearLabelStyle


def setup(app):
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""Identical and near-identical answers, per part, for review (listed in ``summary.md``).

An answer is normalised on its syntax tree: docstrings and comments disappear, every name the student chose
(functions, arguments, variables) is renamed in order of first appearance (``v0, v1, …``), attributes and
constants are kept. Two answers are *identical* when their normalised code is equal, and *near-identical* when the
similarity ratio of their normalised token sequences (:class:`difflib.SequenceMatcher`) is at least ``threshold``.
Answers left as the stub, or shorter than ``min_tokens`` normalised tokens, are not compared (short correct
answers coincide by necessity).
"""

from __future__ import annotations

import ast
import builtins
import difflib
import re
from collections import defaultdict

from autograder.results import SubmissionResult

_KEEP = set(dir(builtins)) | {"np", "numpy", "torch", "nn", "F", "ot", "math", "self"}


class _Rename(ast.NodeTransformer):
    def __init__(self):
        self.names: dict[str, str] = {}

    def _name(self, name: str) -> str:
        if name in _KEEP:
            return name
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self._name(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg, node.annotation = self._name(node.arg), None
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.name = self._name(node.name)
        if node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant) \
                and isinstance(node.body[0].value.value, str):
            node.body = node.body[1:] or [ast.Pass()]
        node.returns = None
        self.generic_visit(node)
        return node


def normalise(code: str) -> str | None:
    """The answer's code with names canonicalised (None when it does not parse)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    return ast.unparse(_Rename().visit(tree))


def _tokens(code: str) -> list[str]:
    return re.findall(r"\w+|[^\w\s]", code)


def similar_groups(results: list[SubmissionResult], stubs: dict[str, str], threshold: float = 0.9,
                   min_tokens: int = 25) -> dict[str, list[tuple[str, list[str]]]]:
    """``part -> [(kind, students)]`` with kind ``identical`` or ``near-identical (ratio)``, for one assignment."""
    found: dict[str, list[tuple[str, list[str]]]] = {}
    parts = sorted(stubs)
    for part in parts:
        stub = normalise(stubs[part])
        by_code: dict[str, list[str]] = defaultdict(list)
        for r in results:
            code = r.code.get(part)
            norm = normalise(code) if code else None
            if norm is None or norm == stub or len(_tokens(norm)) < min_tokens:
                continue
            by_code[norm].append(r.student)
        groups = [("identical", sorted(students)) for students in by_code.values() if len(students) > 1]
        distinct = sorted(by_code)
        tokens = [_tokens(code) for code in distinct]
        for i in range(len(distinct)):
            for j in range(i + 1, len(distinct)):
                matcher = difflib.SequenceMatcher(None, tokens[i], tokens[j], autojunk=False)
                if matcher.real_quick_ratio() < threshold or matcher.quick_ratio() < threshold:
                    continue
                ratio = matcher.ratio()
                if ratio >= threshold:
                    groups.append((f"near-identical ({ratio:.2f})",
                                   sorted(by_code[distinct[i]]) + sorted(by_code[distinct[j]])))
        if groups:
            found[part] = sorted(groups, key=lambda g: (g[0] != "identical", g[1]))
    return found

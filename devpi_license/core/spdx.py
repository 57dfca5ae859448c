"""SPDX license expressions: normalised by ``packaging.licenses``, parsed into a small tree.

``packaging`` canonicalises an expression (``mit or apache-2.0`` becomes
``MIT OR Apache-2.0``) and refuses what is not one; it has no public parse tree, and the
rules need one (``A OR B`` passes if either passes, ``A AND B`` needs both). The tree is
built from packaging's canonical output only, so the grammar left to handle is small:
identifiers, ``WITH``, ``AND``, ``OR`` and parentheses, ``AND`` binding tighter than ``OR``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

if TYPE_CHECKING:
    from collections.abc import Callable

_TOKEN = re.compile(r"\(|\)|[^\s()]+")


@dataclass(frozen=True, slots=True)
class License:
    """One license, with its exception: ``GPL-2.0-only WITH Classpath-exception-2.0``."""

    id: str
    exception: str | None = None

    def __str__(self) -> str:
        return f"{self.id} WITH {self.exception}" if self.exception else self.id


@dataclass(frozen=True, slots=True)
class Either:
    """``A OR B``: the user may choose any of ``options``."""

    options: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class All:
    """``A AND B``: every one of ``parts`` applies."""

    parts: tuple[Node, ...]


Node = License | Either | All


def normalize(expression: str) -> str | None:
    """The canonical SPDX form of ``expression``, or ``None`` when it is not one.

    >>> normalize("mit or (apache-2.0 with llvm-exception)")
    'MIT OR (Apache-2.0 WITH LLVM-exception)'
    >>> normalize("MIT License") is None
    True
    """
    text = " ".join(expression.split())
    if not text:
        return None
    try:
        return str(canonicalize_license_expression(text))
    except InvalidLicenseExpression:
        return None


def parse(expression: str) -> Node:
    """The tree of a canonical expression; :class:`ValueError` when it is not one.

    >>> parse("MIT OR Apache-2.0 AND BSD-3-Clause")
    Either(options=(License(id='MIT', exception=None), All(parts=(License(id='Apache-2.0', exception=None), License(id='BSD-3-Clause', exception=None)))))
    """  # noqa: E501 - a doctest's expected output is one line
    canonical = normalize(expression)
    if canonical is None:
        msg = f"{expression!r} is not an SPDX license expression"
        raise ValueError(msg)
    tokens = _TOKEN.findall(canonical)
    node, rest = _or(tokens)
    if rest:
        msg = f"unexpected {rest[0]!r} in {canonical!r}"
        raise ValueError(msg)
    return node


def _joined(
    tokens: list[str],
    operator: str,
    operand: Callable[[list[str]], tuple[Node, list[str]]],
    make: Callable[[tuple[Node, ...]], Node],
) -> tuple[Node, list[str]]:
    """``operand (operator operand)*``, one node when there is one operand."""
    node, tokens = operand(tokens)
    items = [node]
    while tokens and tokens[0] == operator:
        node, tokens = operand(tokens[1:])
        items.append(node)
    return (items[0] if len(items) == 1 else make(tuple(items))), tokens


def _or(tokens: list[str]) -> tuple[Node, list[str]]:
    return _joined(tokens, "OR", _and, Either)


def _and(tokens: list[str]) -> tuple[Node, list[str]]:
    return _joined(tokens, "AND", _atom, All)


def _atom(tokens: list[str]) -> tuple[Node, list[str]]:
    if not tokens:
        msg = "the expression ends too early"
        raise ValueError(msg)
    if tokens[0] == "(":
        node, rest = _or(tokens[1:])
        if not rest or rest[0] != ")":
            msg = "a parenthesis is not closed"
            raise ValueError(msg)
        return node, rest[1:]
    ident, rest = tokens[0], tokens[1:]
    if rest[:1] == ["WITH"] and len(rest) > 1:
        return License(ident, rest[1]), rest[2:]
    return License(ident), rest


def licenses(node: Node) -> list[License]:
    """Every license named in ``node``, in order."""
    if isinstance(node, License):
        return [node]
    children = node.options if isinstance(node, Either) else node.parts
    return [leaf for child in children for leaf in licenses(child)]

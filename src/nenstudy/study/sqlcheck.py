"""Parse, whitelist and re-emit the SQL expressions of a study definition.

A study definition holds small SQL expressions (cohort criteria, groupings, variables). They
are parsed with sqlglot into a syntax tree, every node is checked against a whitelist
(comparison, AND/OR/NOT, IN, BETWEEN, IS NULL, LIKE, arithmetic, CASE, COALESCE, a few
scalar and date functions, literals, known column names), and the SQL that runs is re-emitted
from the checked tree. The source text is never pasted into a query. Anything else - a
statement, a subquery, a comment, ``;``, a parameter, an unknown column or function - is an
:class:`ExpressionError` with a message that names what was found and what is allowed.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from typing import Mapping

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

__all__ = [
    "ExpressionError",
    "CheckedExpression",
    "check_expression",
    "ALLOWED_FUNCTIONS",
    "MAX_EXPRESSION_LENGTH",
]

MAX_EXPRESSION_LENGTH = 4000
"""Longest expression accepted, in characters."""

_COMPARISONS: tuple[type[exp.Expression], ...] = (
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ,
)
_PREDICATES: tuple[type[exp.Expression], ...] = _COMPARISONS + (
    exp.And, exp.Or, exp.Not, exp.Is, exp.In, exp.Between, exp.Like, exp.ILike, exp.Boolean,
)
_ARITHMETIC: tuple[type[exp.Expression], ...] = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Neg)

# function node -> the name users write
_FUNCTIONS: dict[type[exp.Expression], str] = {
    exp.Coalesce: "COALESCE",
    exp.Abs: "ABS",
    exp.Lower: "LOWER",
    exp.Upper: "UPPER",
    exp.Greatest: "GREATEST",
    exp.Least: "LEAST",
    exp.Round: "ROUND",
    exp.Extract: "EXTRACT",
    exp.DateDiff: "DATE_DIFF",
    exp.Year: "YEAR",
    exp.Month: "MONTH",
}
ALLOWED_FUNCTIONS: tuple[str, ...] = tuple(sorted(set(_FUNCTIONS.values()) | {"CAST"}))
"""Function names an expression may call."""

_STRUCTURE: tuple[type[exp.Expression], ...] = (
    exp.Column, exp.Identifier, exp.Literal, exp.Null, exp.Paren, exp.Case, exp.If,
    exp.Cast, exp.DataType, exp.Var,
)
_CAST_TYPES = {
    exp.DataType.Type.DATE: "date",
    exp.DataType.Type.INT: "number",
    exp.DataType.Type.BIGINT: "number",
    exp.DataType.Type.DOUBLE: "number",
    exp.DataType.Type.FLOAT: "number",
    exp.DataType.Type.DECIMAL: "number",
    exp.DataType.Type.VARCHAR: "string",
    exp.DataType.Type.TEXT: "string",
    exp.DataType.Type.BOOLEAN: "bool",
}
_DATE_UNITS = {"YEAR", "MONTH", "DAY"}
_TYPE_OF_FIELD = {"string": "string", "date": "date", "float": "number", "int": "number", "bool": "bool"}
_KIND_TYPES = {
    "condition": {"bool"},
    "value": {"bool", "number", "string", "date"},
    "number": {"number"},
    "label": {"string", "bool", "number"},
}


class ExpressionError(ValueError):
    """A study expression that is not a valid, whitelisted SQL expression."""


@dataclass(frozen=True)
class CheckedExpression:
    """An expression that passed the whitelist.

    Attributes
    ----------
    source : str
        The text as written in the study file.
    sql : str
        The expression re-emitted (DuckDB dialect) from the checked syntax tree; this is what runs.
    columns : tuple of str
        The study fields it reads, sorted.
    value_type : str
        Inferred result type: ``bool``, ``number``, ``string``, ``date`` or ``unknown``.
    """

    source: str
    sql: str
    columns: tuple[str, ...]
    value_type: str

    def to_dialect(self, dialect: str) -> str:
        """Return the expression in another SQL dialect (e.g. ``"postgres"``, ``"spark"``)."""
        return sqlglot.parse_one(self.sql, read="duckdb").sql(dialect=dialect)


def check_expression(
    text: str,
    fields: Mapping[str, str],
    *,
    kind: str = "condition",
) -> CheckedExpression:
    """Parse and whitelist one study expression.

    Parameters
    ----------
    text : str
        The expression as written, e.g. ``"who_category = 'NEC' AND ki67_pct > 20"``.
    fields : Mapping[str, str]
        Known field names mapped to type tags (``string``, ``date``, ``float``, ``int``, ``bool``),
        normally :data:`nenstudy.study.fields.STUDY_FIELDS`.
    kind : {"condition", "value", "number", "label"}
        What the expression must produce: a boolean condition (cohort steps, subsets), any
        scalar value, a number (continuous variables), or a group label.

    Returns
    -------
    CheckedExpression
        The checked expression with its re-emitted SQL.

    Raises
    ------
    ExpressionError
        For anything outside the whitelist, with a message naming it.
    """
    if kind not in _KIND_TYPES:
        raise ValueError(f"kind must be one of {sorted(_KIND_TYPES)}, got {kind!r}")
    if not isinstance(text, str):
        raise ExpressionError(f"expected an SQL expression as a string, got {type(text).__name__}")
    if not text.strip():
        raise ExpressionError("the expression is empty")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"the expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    _check_tokens(text)
    try:
        trees = sqlglot.parse(text, read="duckdb")
    except (ParseError, TokenError) as err:
        raise ExpressionError(f"not a valid SQL expression: {_parse_message(err)}") from None
    trees = [t for t in trees if t is not None]
    if len(trees) != 1:
        raise ExpressionError("expected exactly one expression")
    tree = trees[0]
    if not isinstance(tree, exp.Condition) or isinstance(tree, (exp.Query, exp.DDL, exp.DML)):
        raise ExpressionError(
            f"a statement ({tree.key.upper()}) is not allowed; write a single expression such as "
            "\"who_category = 'NEC'\""
        )
    columns: set[str] = set()
    for node in tree.walk():
        _check_node(node, fields, columns)
    _lowercase_columns(tree)
    _check_codes(tree, fields)
    value_type = _infer_type(tree, fields)
    allowed = _KIND_TYPES[kind]
    if value_type not in allowed and value_type != "unknown":
        wanted = {
            "condition": "a boolean condition (a comparison, IN, BETWEEN, IS NULL, LIKE, "
            "a boolean field, combined with AND/OR/NOT)",
            "value": "a value",
            "number": "a numeric value",
            "label": "a group label (text)",
        }[kind]
        raise ExpressionError(f"expected {wanted}, but the expression gives a {value_type}")
    return CheckedExpression(
        source=text,
        sql=tree.sql(dialect="duckdb"),
        columns=tuple(sorted(columns)),
        value_type=value_type,
    )


@functools.lru_cache(maxsize=1)
def _field_codes() -> dict[str, tuple[str, ...]]:
    """The codes of the coded study fields, from the registry schema (``who_category`` takes
    ``'NEC'``, not ``'nec'``)."""
    from nenstudy.registry.schema import SCHEMA

    codes: dict[str, tuple[str, ...]] = {}
    for table in SCHEMA:
        for column in table.columns:
            if column.allowed is not None and column.dtype == "string":
                codes.setdefault(column.name, tuple(column.allowed))
    for name in ("site_group", "who_category"):  # the derived columns and as typed in
        if name in codes:
            codes[f"{name}_reported"] = codes[name]
    if "best_response" in codes:
        codes["first_line_best_response"] = codes["best_response"]
    return codes


def _check_codes(tree: exp.Expression, fields: Mapping[str, str]) -> None:
    """A coded field compared with a text that is none of its codes (``who_category = 'nec'``)
    is an error: the condition would hold for no row, without a word."""
    codes = _field_codes()
    for node in tree.find_all(exp.EQ, exp.NEQ, exp.In):
        if isinstance(node, exp.In):
            column, literals = node.this, node.expressions
        else:
            column, literals = node.this, [node.expression]
            if not isinstance(column, exp.Column):
                column, literals = node.expression, [node.this]
        if not isinstance(column, exp.Column) or column.name not in codes or column.name not in fields:
            continue
        allowed = codes[column.name]
        for literal in literals:
            if isinstance(literal, exp.Literal) and literal.is_string and literal.this not in allowed:
                close = [c for c in allowed if c.lower() == literal.this.lower().strip()]
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise ExpressionError(
                    f"'{literal.this}' is not a code of {column.name} (codes are compared as "
                    f"written: {', '.join(allowed)}){hint}")


def _parse_message(err: Exception) -> str:
    errors = getattr(err, "errors", None)
    if errors:
        first = errors[0]
        where = f" near {first.get('highlight')!r}" if first.get("highlight") else ""
        description = re.sub(r"<class '[\w.]*\.(\w+)'>", r"\1", str(first.get("description", "syntax error")))
        return f"{description}{where}"
    return str(err).splitlines()[0] if str(err) else "syntax error"


def _check_tokens(text: str) -> None:
    """Reject separators, comments and parameters before parsing (string literals are exempt)."""
    try:
        tokens = sqlglot.tokenize(text, read="duckdb")
    except (TokenError, ParseError) as err:
        raise ExpressionError(f"not a valid SQL expression: {_parse_message(err)}") from None
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            raise ExpressionError("';' is not allowed: a criterion is one expression, not statements")
        if token.comments:
            raise ExpressionError("SQL comments ('--' or '/* */') are not allowed in an expression")
        if token.token_type in (TokenType.PARAMETER, TokenType.PLACEHOLDER):
            raise ExpressionError("parameters ('?', '$1', ':name') are not allowed; write the value")
    if "--" in _outside_strings(text) or "/*" in _outside_strings(text):
        raise ExpressionError("SQL comments ('--' or '/* */') are not allowed in an expression")


def _outside_strings(text: str) -> str:
    """Return the text with single-quoted string literals blanked out."""
    out: list[str] = []
    inside = False
    for char in text:
        if char == "'":
            inside = not inside
            out.append(" ")
        else:
            out.append(" " if inside else char)
    return "".join(out)


def _check_node(node: exp.Expression, fields: Mapping[str, str], columns: set[str]) -> None:
    if isinstance(node, (exp.Query, exp.Subquery, exp.Exists)):
        raise ExpressionError("subqueries (SELECT ...) are not allowed in an expression")
    if isinstance(node, (exp.DDL, exp.DML, exp.Command)):
        raise ExpressionError(f"a statement ({node.key.upper()}) is not allowed in an expression")
    if isinstance(node, (exp.Star,)):
        raise ExpressionError("'*' is not allowed in an expression")
    if isinstance(node, (exp.Placeholder, exp.Parameter)):
        raise ExpressionError("parameters ('?', '$1', ':name') are not allowed; write the value")
    if isinstance(node, exp.Column):
        _check_column(node, fields, columns)
        return
    if isinstance(node, exp.In):
        if node.args.get("query") is not None or node.args.get("unnest") is not None:
            raise ExpressionError("subqueries (SELECT ...) are not allowed in an expression")
        if node.args.get("field") is not None:
            raise ExpressionError("IN must list literal values, e.g. site_group IN ('GEP', 'lung')")
        return
    if isinstance(node, exp.Cast):
        target = node.args["to"].this
        if target not in _CAST_TYPES:
            raise ExpressionError(
                f"CAST to {node.args['to'].sql()} is not allowed; use DATE, INTEGER, DOUBLE, VARCHAR or BOOLEAN"
            )
        return
    if isinstance(node, exp.Var):
        parent = node.parent
        if isinstance(parent, (exp.Extract, exp.DateDiff)) and node.name.upper() in _DATE_UNITS:
            return
        raise ExpressionError(
            f"unexpected word {node.name!r}; date parts must be one of {sorted(_DATE_UNITS)}"
        )
    if isinstance(node, exp.Identifier):
        if isinstance(node.parent, exp.Column):
            return
        raise ExpressionError(f"unexpected name {node.name!r}")
    if isinstance(node, exp.Literal):
        return
    if isinstance(node, _PREDICATES + _ARITHMETIC + _STRUCTURE):
        return
    if type(node) in _FUNCTIONS:
        return
    if isinstance(node, exp.Anonymous):
        raise ExpressionError(
            f"unknown function {str(node.this).upper()!r}; allowed functions: {', '.join(ALLOWED_FUNCTIONS)}"
        )
    if isinstance(node, exp.Func):
        name = node.sql_name() if hasattr(node, "sql_name") else node.key.upper()
        raise ExpressionError(
            f"function {name!r} is not allowed; allowed functions: {', '.join(ALLOWED_FUNCTIONS)}"
        )
    raise ExpressionError(
        f"{node.key.upper()} ({node.sql(dialect='duckdb')[:40]!r}) is not allowed; expressions may use "
        "comparisons, AND/OR/NOT, IN, BETWEEN, IS NULL, LIKE, arithmetic, CASE, literals and "
        f"the functions {', '.join(ALLOWED_FUNCTIONS)}"
    )


def _check_column(node: exp.Column, fields: Mapping[str, str], columns: set[str]) -> None:
    if node.args.get("table") is not None or node.args.get("db") is not None or node.args.get("catalog") is not None:
        raise ExpressionError(
            f"qualified column names ({node.sql()!r}) are not allowed; write the field name alone"
        )
    name = node.name.lower()
    if name not in fields:
        close = difflib.get_close_matches(name, list(fields), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see docs/study-format.md for the fields"
        if node.this.quoted:
            hint += f" (text values go in single quotes: '{node.name}')"
        raise ExpressionError(f"unknown column {node.name!r}{hint}")
    columns.add(name)


def _lowercase_columns(tree: exp.Expression) -> None:
    for column in tree.find_all(exp.Column):
        column.set("this", exp.to_identifier(column.name.lower()))


def _infer_type(node: exp.Expression, fields: Mapping[str, str]) -> str:
    if isinstance(node, exp.Paren):
        return _infer_type(node.this, fields)
    if isinstance(node, _PREDICATES):
        return "bool"
    if isinstance(node, exp.Column):
        return _TYPE_OF_FIELD.get(fields[node.name.lower()], "unknown")
    if isinstance(node, exp.Literal):
        return "string" if node.is_string else "number"
    if isinstance(node, exp.Null):
        return "null"
    if isinstance(node, _ARITHMETIC + (exp.Abs, exp.Round, exp.Extract, exp.DateDiff, exp.Year, exp.Month)):
        return "number"
    if isinstance(node, (exp.Lower, exp.Upper)):
        return "string"
    if isinstance(node, exp.Cast):
        return _CAST_TYPES.get(node.args["to"].this, "unknown")
    if isinstance(node, exp.Case):
        branches = [i.args.get("true") for i in node.args.get("ifs", [])] + [node.args.get("default")]
        return _first_type(branches, fields)
    if isinstance(node, (exp.Coalesce, exp.Greatest, exp.Least)):
        return _first_type([node.this, *node.expressions], fields)
    return "unknown"


def _first_type(nodes: list[exp.Expression | None], fields: Mapping[str, str]) -> str:
    for branch in nodes:
        if branch is None:
            continue
        kind = _infer_type(branch, fields)
        if kind != "null":
            return kind
    return "null"

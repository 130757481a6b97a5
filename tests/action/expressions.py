"""A small evaluator for GitHub Actions expressions (`${{ ... }}`), enough to run action.yml's steps
the way the runner would: literals, context paths (`inputs.api-key`, `steps.prep.outputs.x`,
`github.event.pull_request.head.sha`), `!`, `==`, `!=`, `<`, `>`, `<=`, `>=`, `&&`, `||`,
parentheses, and the functions action.yml and the workflows use. Anything else raises
`ExpressionError`, so an expression this evaluator does not understand fails the test instead of
being guessed at.

Semantics follow GitHub's documentation: `&&`/`||` return an operand (not a boolean), strings
compare case-insensitively, a missing property is null, and null, false, 0 and '' are falsy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<number>-?\d+(?:\.\d+)?)
    | '(?P<string>(?:[^']|'')*)'
    | (?P<op>==|!=|<=|>=|&&|\|\||[<>!()\[\].,*])
    | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
    )""",
    re.VERBOSE,
)
_TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_STATUS_FUNCTIONS = ("always", "success", "failure", "cancelled")


class ExpressionError(ValueError):
    pass


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExpressionError(f"cannot read {text[pos:]!r} in {text!r}")
        pos = m.end()
        if m.group("number") is not None:
            out.append(("lit", float(m.group("number"))))
        elif m.group("string") is not None:
            out.append(("lit", m.group("string").replace("''", "'")))
        elif m.group("op") is not None:
            out.append(("op", m.group("op")))
        else:
            name = m.group("name")
            literals = {"true": True, "false": False, "null": None}
            out.append(("lit", literals[name]) if name in literals else ("name", name))
    return out


def truthy(value: Any) -> bool:
    return value not in (None, False, 0, 0.0, "")


def to_string(value: Any) -> str:
    """How a value becomes text in `env:`, `with:` and templates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip()) if value.strip() else 0.0
        except ValueError:
            return float("nan")
    return float("nan")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string" if isinstance(value, str) else "object"


def _equal(a: Any, b: Any) -> bool:
    """`==`: strings ignore case; values of different types are compared as numbers."""
    if _kind(a) != _kind(b):
        return _number(a) == _number(b)
    if isinstance(a, str):
        return bool(a.casefold() == b.casefold())
    return bool(a == b) if _kind(a) != "object" else a is b


class _Parser:
    def __init__(
        self, text: str, context: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]]
    ) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0
        self.context = context
        self.functions = functions

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, op: str | None = None) -> tuple[str, Any]:
        token = self.peek()
        if token is None or (op is not None and token != ("op", op)):
            raise ExpressionError(f"expected {op or 'more'} in {self.text!r}")
        self.pos += 1
        return token

    def parse(self) -> Any:
        value = self.or_()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()} in {self.text!r}")
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.compare()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.compare()
            value = right if truthy(value) else value
        return value

    def compare(self) -> Any:
        left = self.unary()
        token = self.peek()
        if token and token[0] == "op" and token[1] in ("==", "!=", "<", ">", "<=", ">="):
            self.take()
            right = self.unary()
            op = token[1]
            if op == "==":
                return _equal(left, right)
            if op == "!=":
                return not _equal(left, right)
            a, b = _number(left), _number(right)
            return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
        return left

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.postfix(self.primary())

    def primary(self) -> Any:
        kind, value = self.take()
        if kind == "lit":
            return value
        if (kind, value) == ("op", "("):
            inner = self.or_()
            self.take(")")
            return inner
        if kind == "name":
            if self.peek() == ("op", "("):
                return self.call(value)
            if value not in self.context:
                raise ExpressionError(f"unknown context {value!r} in {self.text!r}")
            return self.context[value]
        raise ExpressionError(f"unexpected {value!r} in {self.text!r}")

    def call(self, name: str) -> Any:
        self.take("(")
        args: list[Any] = []
        if self.peek() != ("op", ")"):
            args.append(self.or_())
            while self.peek() == ("op", ","):
                self.take()
                args.append(self.or_())
        self.take(")")
        function = self.functions.get(name.lower())
        if function is None:
            raise ExpressionError(f"unknown function {name}() in {self.text!r}")
        return function(*args)

    def postfix(self, value: Any) -> Any:
        while self.peek() in (("op", "."), ("op", "[")):
            if self.take()[1] == ".":
                kind, name = self.take()
                if (kind, name) == ("op", "*"):
                    raise ExpressionError(f"object filters (.*) are not supported: {self.text!r}")
                if kind != "name":
                    raise ExpressionError(f"expected a property name in {self.text!r}")
                value = _property(value, name)
            else:
                key = self.or_()
                self.take("]")
                value = _property(value, key)
        return value


def _property(value: Any, key: Any) -> Any:
    if isinstance(value, Mapping):
        if isinstance(key, str):
            for k, v in value.items():  # property names are case-insensitive
                if isinstance(k, str) and k.casefold() == key.casefold():
                    return v
        return None
    if isinstance(value, list) and isinstance(key, float) and key.is_integer():
        index = int(key)
        return value[index] if 0 <= index < len(value) else None
    return None


def _contains(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, list):
        return any(_equal(item, needle) for item in haystack)
    return to_string(needle).casefold() in to_string(haystack).casefold()


def _format(template: str, *args: Any) -> str:
    def sub(m: re.Match[str]) -> str:
        return to_string(args[int(m.group(1))])

    return (
        re.sub(r"\{(\d+)\}", sub, template.replace("{{", "\0").replace("}}", "\1"))
        .replace("\0", "{")
        .replace("\1", "}")
    )


def default_functions(status: str = "success") -> dict[str, Callable[..., Any]]:
    """`status`: the job status so far (`success`, `failure` or `cancelled`)."""
    return {
        "always": lambda: True,
        "success": lambda: status == "success",
        "failure": lambda: status == "failure",
        "cancelled": lambda: status == "cancelled",
        "contains": _contains,
        "startswith": lambda a, b: to_string(a).casefold().startswith(to_string(b).casefold()),
        "endswith": lambda a, b: to_string(a).casefold().endswith(to_string(b).casefold()),
        "format": _format,
        "fromjson": lambda text: json.loads(to_string(text)),
        "tojson": lambda value: json.dumps(value, indent=2),
    }


def evaluate(text: str, context: Mapping[str, Any], *, status: str = "success") -> Any:
    """The value of one expression (the text inside `${{ }}`)."""
    return _Parser(text, context, default_functions(status)).parse()


def render(template: str, context: Mapping[str, Any], *, status: str = "success") -> str:
    """A string with `${{ }}` parts replaced by their values, as text."""
    return _TEMPLATE.sub(
        lambda m: to_string(evaluate(m.group(1), context, status=status)), template
    )


def condition(text: str | bool | None, context: Mapping[str, Any], *, status: str) -> bool:
    """A step's `if:`: `${{ }}` optional; without a status function it means `success() && (...)`."""
    if text is None:
        return status == "success"
    if isinstance(text, bool):
        return text and status == "success"
    inner = text.strip()
    m = re.fullmatch(r"\$\{\{(.*)\}\}", inner, re.DOTALL)
    if m:
        inner = m.group(1)
    value = truthy(evaluate(inner, context, status=status))
    uses_status = any(re.search(rf"\b{f}\s*\(", inner) for f in _STATUS_FUNCTIONS)
    return value if uses_status else value and status == "success"


def expressions_in(text: str) -> list[str]:
    """The expressions (inside `${{ }}`) in a string."""
    return [m.group(1).strip() for m in _TEMPLATE.finditer(text)]

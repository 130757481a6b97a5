"""Load YAML into plain values while remembering the line of every value.

PyYAML's safe loader silently keeps the last of duplicate keys and expands aliases without bound;
here both are errors, and every problem carries a line number, so validation messages can say
`file:line: field: problem`. Aliases are bounded twice: by the number of values they expand to
("billion laughs") and by the characters those values hold (an alias repeating one long string
thousands of times: "quadratic blowup"); nesting is bounded too, so no input reaches Python's
recursion limit.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_FILE_BYTES = 1_000_000
MAX_NODES = 100_000  # bounds alias expansion ("billion laughs")
MAX_EXPANDED_CHARS = 2 * MAX_FILE_BYTES  # bounds aliases of long strings ("quadratic blowup")
MAX_DEPTH = 50  # matrices nest 4 levels; deeper input would only reach the recursion limit

Path_ = tuple[str | int, ...]
_COLLECTION_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})


class YamlProblem(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def load(data: bytes) -> tuple[Any, dict[Path_, int]]:
    """Return (value, lines): lines maps a path like ("notebooks", 0, "path") to a 1-based line."""
    if len(data) > MAX_FILE_BYTES:
        raise YamlProblem(1, f"file is {len(data):,} bytes (valid: at most {MAX_FILE_BYTES:,})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise YamlProblem(
            line, f"not valid UTF-8 (byte {exc.start}: {data[exc.start]:#04x})"
        ) from None
    try:
        node = yaml.compose(
            text, Loader=yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
        )
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        what = " ".join(x for x in (exc.context, exc.problem) if x) or str(exc)
        source_lines = text.splitlines()
        if mark and mark.line < len(source_lines) and "\t" in source_lines[mark.line]:
            what += " (a tab: YAML indentation must use spaces)"
        raise YamlProblem(line, f"invalid YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise YamlProblem(1, f"invalid YAML: {exc}") from None
    lines: dict[Path_, int] = {}
    if node is None:
        return None, lines
    budget = [MAX_NODES, MAX_EXPANDED_CHARS]
    return _convert(node, (), lines, budget), lines


def _convert(node: yaml.Node, path: Path_, lines: dict[Path_, int], budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise YamlProblem(
            node.start_mark.line + 1,
            f"document expands to more than {MAX_NODES:,} values (aliases nested too deep?)",
        )
    if len(path) > MAX_DEPTH:
        raise YamlProblem(
            node.start_mark.line + 1, f"values are nested more than {MAX_DEPTH} levels deep"
        )
    if isinstance(node, yaml.ScalarNode):
        budget[1] -= len(node.value)
        if budget[1] < 0:
            raise YamlProblem(
                node.start_mark.line + 1,
                f"document expands to more than {MAX_EXPANDED_CHARS:,} characters"
                " (an alias repeats a long value?)",
            )
    lines[path] = node.start_mark.line + 1
    if not isinstance(node, yaml.ScalarNode) and node.tag not in _COLLECTION_TAGS:
        raise YamlProblem(node.start_mark.line + 1, f"tag {node.tag!r} is not allowed")
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlProblem(key_node.start_mark.line + 1, "merge keys (<<) are not supported")
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                raise YamlProblem(
                    key_node.start_mark.line + 1,
                    f"key {_scalar_text(key_node)!r} must be a string",
                )
            key = key_node.value
            if key in out:
                raise YamlProblem(
                    key_node.start_mark.line + 1,
                    f"duplicate key {key!r} (first on line {lines[(*path, key)]})",
                )
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _convert(value_node, (*path, key), lines, budget)
            lines[(*path, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(v, (*path, i), lines, budget) for i, v in enumerate(node.value)]
    assert isinstance(node, yaml.ScalarNode)
    return _construct_scalar(node)


def _scalar_text(node: yaml.Node) -> str:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else type(node).__name__


def _construct_scalar(node: yaml.ScalarNode) -> Any:
    try:
        return yaml.constructor.SafeConstructor().construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlProblem(node.start_mark.line + 1, f"invalid value: {problem}") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        problem = str(exc).split(":", 1)[0]
        raise YamlProblem(node.start_mark.line + 1, f"invalid value: {problem}") from None

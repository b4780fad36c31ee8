"""Phase 2 of validation: pydantic's findings as problems with the author's line and field,
and hints (did you mean, expected forms)."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from gert.load import Document
from gert.model import (
    Strict,
)
from gert.problems import Problem

Path_ = tuple[str | int, ...]


def field_path(path: Path_) -> str:
    """``('tree', 0, 'step', 'with')`` -> ``tree[0].step.with``."""
    out = ""
    for el in path:
        if isinstance(el, int):
            out += f"[{el}]"
        else:
            out += ("." if out else "") + str(el)
    return out


# ------------------------------------------------------------- pydantic -> us


def _all_models() -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = []
    stack = list(Strict.__subclasses__())
    while stack:
        m = stack.pop()
        if m not in seen:
            seen.append(m)
            stack.extend(m.__subclasses__())
    return seen


def _aliases(model: type[BaseModel]) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items()}


def _field_hint(bad: str, siblings: set[str]) -> str | None:
    """Guess the intended field: the model whose fields best fit the sibling keys."""
    best: tuple[int, set[str]] | None = None
    for m in _all_models():
        names = _aliases(m)
        if not siblings <= names:
            continue
        score = len(siblings)
        if best is None or score > best[0] or (score == best[0] and len(names) < len(best[1])):
            best = (score, names)
    vocabulary = best[1] if best else set().union(*(_aliases(m) for m in _all_models()))
    import difflib  # only needed when there is a mistake to explain

    close = difflib.get_close_matches(bad, sorted(vocabulary), n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if best and len(best[1]) <= 14:
        return "allowed here: " + ", ".join(sorted(best[1] - siblings))
    return None


_KIND_NAMES = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def yaml_type(v: Any) -> str:
    if v is None:
        return "nothing (null)"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int | float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a mapping"
    return type(v).__name__


def doc_path(loc: tuple[Any, ...], data: Any, typ: str = "") -> tuple[Path_, bool]:
    """The path in the document of a pydantic error location, and whether it is about a
    mapping key: the tags pydantic adds to a location (union members) are left out."""
    raw: list[str | int] = []
    node: Any = data
    tagged: set[int] = set()  # dicts whose discriminator tag was already skipped
    on_key = False
    for i, el in enumerate(loc):
        if el == "[key]":
            on_key = True
        elif isinstance(node, dict) and node.get("type") == el and id(node) not in tagged:
            tagged.add(id(node))  # pydantic's union tag (cli, http, ...), not a YAML key
        elif (isinstance(node, dict) and el in node) or (
            isinstance(node, list) and isinstance(el, int) and 0 <= el < len(node)
        ):
            raw.append(el)
            node = node[el]
        elif i == len(loc) - 1 and typ in ("missing", "extra_forbidden"):
            raw.append(el)
        # else: a union tag pydantic adds to the location; it is not in the file
    return tuple(raw), on_key


M = TypeVar("M", bound=BaseModel)


def validate_model(model: type[M], doc: Document) -> M:
    """*model* from the document's data, where a string is wanted taking the text the
    author wrote for a plain scalar that YAML read as a number, boolean or null
    (``argv: [sleep, 5]``, ``check: [true]``, ``1.10`` stays ``1.10``).

    Fields that accept numbers or booleans (``vars``, an input's ``default``) keep what
    YAML read. Raises pydantic's ValidationError for what remains wrong.
    """
    data = doc.data
    while True:
        try:
            return model.model_validate(data)
        except ValidationError as e:
            if not _take_text(e, doc):
                raise


def _take_text(error: ValidationError, doc: Document) -> bool:
    """Replace, in the document's data, each value a string was wanted for by the author's
    text of it; False when there was none to replace."""
    changed = False
    for err in error.errors(include_url=False):
        if err["type"] != "string_type" or isinstance(err.get("input"), str):
            continue
        path, on_key = doc_path(err["loc"], doc.data, err["type"])
        text = doc.plain.get(path)
        if text is None or on_key or not path:
            continue
        parent: Any = doc.data
        for el in path[:-1]:
            parent = parent[el]
        if not isinstance(parent[path[-1]], str):
            parent[path[-1]] = text
            changed = True
    return changed


def problems_from_pydantic(
    error: ValidationError, doc: Document, model: type[BaseModel] | None = None
) -> list[Problem]:
    """Turn pydantic's errors into located, readable problems."""
    problems: list[Problem] = []
    seen: set[tuple[Path_, str]] = set()
    for err in error.errors(include_url=False):
        typ = err["type"]
        path, on_key = doc_path(err["loc"], doc.data, typ)
        fname = field_path(path)
        inp = err.get("input")
        ctx = err.get("ctx") or {}
        hint = None
        if typ == "missing":
            msg = f"missing required field '{path[-1]}'"
            line, col = doc.position(path[:-1])
        elif typ == "extra_forbidden":
            msg = f"unknown field '{path[-1]}'"
            parent = doc.data
            for el in path[:-1]:
                parent = parent[el]
            siblings = set(parent) - {path[-1]} if isinstance(parent, dict) else set()
            hint = _field_hint(str(path[-1]), siblings)
            line, col = doc.position(path, key=True)
        else:
            line, col = doc.position(path, key=on_key)
            if typ == "union_tag_invalid":
                expected = ctx.get("expected_tags", "").replace("'", "")
                msg = f"unknown step type '{ctx.get('tag')}'; expected one of {expected}"
                fname = field_path((*path, "type"))
                line, col = doc.position((*path, "type"))
            elif typ == "union_tag_not_found":
                msg = "missing field 'type'"
                hint = "a step needs type: cli, http, tool, manual or invoke"
            elif typ == "literal_error":
                msg = f"must be one of {ctx.get('expected')}; got {inp!r}"
                hint = _value_hint(inp, re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
            elif typ == "string_pattern_mismatch":
                msg, hint = _pattern_message(path, inp, on_key)
            elif typ == "too_short":
                n = ctx.get("min_length", 1)
                msg = f"needs at least {n} item{'s' * (n != 1)}"
            elif typ in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
                bound = {
                    "greater_than_equal": ("at least", "ge"),
                    "less_than_equal": ("at most", "le"),
                    "greater_than": ("more than", "gt"),
                    "less_than": ("less than", "lt"),
                }[typ]
                msg = f"must be {bound[0]} {ctx.get(bound[1])}; got {inp!r}"
            elif typ in _KIND_NAMES:
                msg = f"expected {_KIND_NAMES[typ]}, got {yaml_type(inp)}"
            elif typ in ("value_error", "assertion_error"):
                msg = str(ctx.get("error", err["msg"])).removeprefix("Value error, ")
            else:
                msg = err["msg"]
        if (path, msg) in seen:
            continue
        seen.add((path, msg))
        problems.append(Problem(doc.file, line, col, msg, field=fname, hint=hint, rule="schema"))
    return problems


def _value_hint(value: Any, allowed: list[str]) -> str | None:
    """``did you mean 'local'?`` for a value close to one of the allowed ones."""
    import difflib

    close = difflib.get_close_matches(str(value), allowed, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close and close[0] != str(value) else None


def _pattern_message(path: Path_, value: Any, on_key: bool = False) -> tuple[str, str | None]:
    last = path[-1] if path else ""
    if on_key:
        return (
            f"{value!r} is not a valid variable name",
            "use letters, digits and _, not starting with a digit",
        )
    if last == "from":
        return (
            f"{value!r} is not an input source",
            "use incident.<field>, incident.custom_fields.<Name>, incident.location.<field>, "
            "incident.title, prompt, parent or env.<VAR>",
        )
    if last == "id":
        return (
            f"{value!r} is not a valid step id",
            "start with a letter or _, then letters, digits, _ or -",
        )
    if last == "name":
        return (
            f"{value!r} is not a valid name",
            "letters, digits, '.', '_' and '-', starting with a letter or digit",
        )
    return f"{value!r} does not match the expected form", None

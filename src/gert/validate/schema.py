"""Phase 2 of validation: pydantic's findings as problems with the author's line and field,
and hints (did you mean, expected forms)."""

from __future__ import annotations

import re
from types import UnionType
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

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


def _field_hint(bad: str, siblings: set[str], here: list[type[BaseModel]]) -> str | None:
    """What to say about an unknown field *bad*: a close name the mapping does take, else
    what it takes; never the name itself. *here* are the models the mapping may be (by
    its place in the file); without them, the model whose fields best fit the siblings."""
    if here:
        names = set().union(*(_aliases(m) for m in here))
        allowed = names
    else:
        best: tuple[int, set[str]] | None = None
        for m in _all_models():
            names = _aliases(m)
            if not siblings <= names:
                continue
            score = len(siblings)
            if best is None or score > best[0] or (score == best[0] and len(names) < len(best[1])):
                best = (score, names)
        names = best[1] if best else set().union(*(_aliases(m) for m in _all_models()))
        allowed = best[1] if best else set()
    import difflib  # only needed when there is a mistake to explain

    close = difflib.get_close_matches(bad, sorted(names - {bad}), n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if allowed and len(allowed) <= 14 and allowed - siblings:
        return "allowed here: " + ", ".join(sorted(allowed - siblings))
    return None


# ------------------------------------------------------------- where a field belongs


def _members(annotation: Any, node: Any) -> list[Any]:
    """The types an annotation allows, Annotated and Optional unwrapped; a union of models
    told apart by ``type`` (steps) narrowed to the one *node* names, when it names one."""
    if get_origin(annotation) is Annotated:
        return _members(get_args(annotation)[0], node)
    if get_origin(annotation) in (Union, UnionType):
        out = [t for arg in get_args(annotation) for t in _members(arg, node)]
        out = [t for t in out if t is not type(None)]
        if isinstance(node, dict) and "type" in node:
            named = [t for t in out if _is_model(t) and node["type"] in _literal(t, "type")]
            if named:
                return named
        return out
    return [annotation]


def _is_model(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, BaseModel)


def _literal(model: type[BaseModel], name: str) -> tuple[Any, ...]:
    f = model.model_fields.get(name)
    return get_args(f.annotation) if f is not None and get_origin(f.annotation) is Literal else ()


def _field(model: type[BaseModel], key: str) -> Any:
    for name, f in model.model_fields.items():
        if (f.alias or name) == key:
            return f.annotation
    return None


def models_at(root: type[BaseModel], data: Any, path: Path_) -> list[type[BaseModel]]:
    """The models the mapping at *path* of a document of *root* may be: one, or several
    when a union cannot tell (a step without a known ``type``); [] when it is no model."""
    current: list[Any] = [root]
    node = data
    for el in path:
        following: list[Any] = []
        for annotation in current:
            for t in _members(annotation, node):
                origin, args = get_origin(t), get_args(t)
                if _is_model(t) and isinstance(el, str):
                    found = _field(t, el)
                    if found is not None:
                        following.append(found)
                elif origin is dict and isinstance(el, str) and len(args) == 2:
                    following.append(args[1])
                elif origin is list and isinstance(el, int) and args:
                    following.append(args[0])
        current = following
        try:
            node = node[el]
        except (KeyError, IndexError, TypeError):
            node = None
    out: list[type[BaseModel]] = []
    for annotation in current:
        out += [t for t in _members(annotation, node) if _is_model(t) and t not in out]
    return out


_LEVELS = {1: "one level", 2: "two levels", 3: "three levels"}


def _belongs_hint(root: type[BaseModel], doc: Document, path: Path_) -> str | None:
    """Where an unknown field that is a field elsewhere belongs: an enclosing mapping (it
    is indented too far), or a mapping inside this one (not indented enough)."""
    bad, parent_path = path[-1], path[:-1]
    takes = lambda p: any(bad in _aliases(m) for m in models_at(root, doc.data, p))  # noqa: E731
    levels = 0
    for k in range(len(parent_path) - 1, -1, -1):
        levels += isinstance(parent_path[k], str)
        up = parent_path[:k]
        node = _get(doc.data, up)
        if isinstance(node, dict) and bad not in node and takes(up):
            inside = field_path(parent_path[k:]) if isinstance(parent_path[k], str) else ""
            return (
                f"'{bad}' belongs to {_describe(root, doc, up)}"
                + (f", not inside '{inside}'" if inside else "")
                + f" (indent it {_LEVELS.get(levels, f'{levels} levels')} less)"
            )
    parent = _get(doc.data, parent_path)
    if not isinstance(parent, dict):
        return None
    for key, value in parent.items():
        child = (*parent_path, key)
        if isinstance(value, list) and value and isinstance(value[0], dict):
            value, child = value[0], (*child, 0)
        if not isinstance(value, dict) or bad in value:
            continue
        if takes(child):
            return f"'{bad}' belongs under '{key}:' (indent it one level more)"
        entry = next(iter(value), None)  # a mapping of names to mappings (args, inputs)
        if (
            not models_at(root, doc.data, child)
            and isinstance(value.get(entry), dict)
            and takes((*child, entry))
        ):
            return (
                f"'{bad}' belongs to each entry of '{key}:' (under '{entry}:', indented "
                "two levels more)"
            )
    for model in models_at(root, doc.data, parent_path):  # a wrapper that is missing
        for name, f in model.model_fields.items():
            key = f.alias or name
            if key in parent:
                continue
            inner = [t for a in _members(f.annotation, parent) for t in _members(a, parent)]
            if any(_is_model(t) and bad in _aliases(t) for t in inner):
                return (
                    f"'{bad}' belongs under '{key}:', which is missing here "
                    f"(write '{key}:' and indent the fields under it)"
                )
    return None


def _get(data: Any, path: Path_) -> Any:
    for el in path:
        try:
            data = data[el]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _describe(root: type[BaseModel], doc: Document, path: Path_) -> str:
    """How to name the mapping at *path* in a hint: the top level, the step, or its field."""
    if not path:
        return "the top level"
    models = models_at(root, doc.data, path)
    if models and all(m.__name__.endswith("Step") for m in models):
        return f"the step ({field_path(path)})"
    return field_path(path)


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
            parent = _get(doc.data, path[:-1])
            siblings = set(parent) - {path[-1]} if isinstance(parent, dict) else set()
            here = models_at(model, doc.data, path[:-1]) if model else []
            hint = (_belongs_hint(model, doc, path) if model else None) or _field_hint(
                str(path[-1]), siblings, here
            )
            line, col = doc.position(path, key=True)
        else:
            line, col = doc.position(path, key=on_key)
            if typ == "union_tag_invalid":
                expected = ctx.get("expected_tags", "").replace("'", "")
                msg = f"unknown step type '{ctx.get('tag')}'; expected one of {expected}"
                hint = _value_hint(ctx.get("tag"), re.findall(r"\w+", expected))
                fname = field_path((*path, "type"))
                line, col = doc.position((*path, "type"))
            elif typ == "union_tag_not_found":
                msg = "missing field 'type'"
                hint = "a step needs type: cli, http, tool, manual or invoke"
                node = _get(doc.data, path)
                if model is not None and isinstance(node, dict):
                    inside = _misplaced_type(node)
                    if inside is not None:  # `type:` indented under `with:`
                        at = (*path, inside, "type")
                        hint = f"'type' is inside '{inside}' (line {doc.position(at)[0]})"
                        tline, tcol = doc.position(at, key=True)
                        seen.add((at, "unknown field 'type'"))
                        problems.append(
                            Problem(
                                doc.file,
                                tline,
                                tcol,
                                "unknown field 'type'",
                                field=field_path(at),
                                hint=_belongs_hint(model, doc, at),
                                rule="schema",
                            )
                        )
                    # pydantic stops at the missing tag: name the keys no step has (`typ:`)
                    here = models_at(model, doc.data, path)
                    known = set().union(*(_aliases(m) for m in here))
                    for key in [k for k in node if here and k not in known]:
                        kline, kcol = doc.position((*path, key), key=True)
                        unknown = Problem(
                            doc.file,
                            kline,
                            kcol,
                            f"unknown field '{key}'",
                            field=field_path((*path, key)),
                            hint=_field_hint(key, set(node) - {key}, here),
                            rule="schema",
                        )
                        if ((*path, key), unknown.message) not in seen:
                            seen.add(((*path, key), unknown.message))
                            problems.append(unknown)
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


def _misplaced_type(step: dict[str, Any]) -> str | None:
    """The field of a step without ``type`` that holds it (indented one level too deep)."""
    return next((k for k, v in step.items() if isinstance(v, dict) and "type" in v), None)


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

"""Execution of parsed templates with Go ``text/template`` semantics (missingkey=error)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gert.template import _parse as p
from gert.template.errors import MissingVariableError, TemplateError
from gert.template.gofmt import MAX_OUTPUT, sprint_value, type_name

MISSING = object()  # "no final value" sentinel, Go's missingVal
NO_VALUE = object()  # Go's invalid reflect.Value: prints "<no value>"


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class Func:
    """A template function: Python callable plus Go's parameter typing.

    ``params`` holds one entry per parameter: ``"any"`` (interface{}), ``"value"``
    (reflect.Value: nil literal refused) or ``"string"``. ``variadic`` makes the last
    parameter repeatable.
    """

    __slots__ = ("fn", "name", "params", "variadic")

    def __init__(
        self, name: str, fn: Callable[..., Any], params: tuple[str, ...], variadic: bool = False
    ):
        self.name = name
        self.fn = fn
        self.params = params
        self.variadic = variadic


def truth(v: object) -> bool:
    """Go's isTrue: false, 0, nil, and empty strings, lists and maps are false."""
    if v is None or v is NO_VALUE:
        return False
    if isinstance(v, (bool, int, float, str, list, dict)):
        return bool(v)
    return True


def _lovely(v: object) -> object:
    """Go unwraps a nil interface at the end of a pipeline into an invalid value."""
    return NO_VALUE if v is None else v


class State:
    """One execution: the output buffer, the variable stack and the function table."""

    __slots__ = ("funcs", "out", "size", "text", "vars")

    def __init__(self, text: str, funcs: dict[str, Func], data: object):
        self.text = text
        self.funcs = funcs
        self.vars: list[tuple[str, object]] = [("$", data)]
        self.out: list[str] = []
        self.size = 0  # characters written so far (bounded by MAX_OUTPUT)

    def write(self, text: str, node: p.Node) -> None:
        """Append output; past MAX_OUTPUT the template stops with an error."""
        self.size += len(text)
        if self.size > MAX_OUTPUT:
            raise self.error(
                f"the output is larger than the {MAX_OUTPUT // 1024 // 1024} MiB "
                "a template may produce",
                node,
            )
        self.out.append(text)

    def error(self, msg: str, node: p.Node) -> TemplateError:
        return TemplateError(msg, self.text, node.pos)

    # ---------------------------------------------------------------- walk
    def walk(self, dot: object, node: p.Node) -> None:
        t = type(node)
        if t is p.Text:
            self.write(node.text, node)
        elif t is p.Action:
            val = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.write(self.printable(val, node), node)
        elif t is p.ListNode:
            for n in node.nodes:
                self.walk(dot, n)
        elif t is p.Branch:
            if node.kind == "range":
                self.walk_range(dot, node)
            else:
                self.walk_if_with(dot, node)
        elif t is p.Break:
            raise _Break
        elif t is p.Continue:
            raise _Continue
        else:  # pragma: no cover - parser produces no other nodes
            raise self.error(f"unknown node {t.__name__}", node)

    def printable(self, v: object, node: p.Node) -> str:
        if v is NO_VALUE:
            return "<no value>"
        if isinstance(v, str):
            return v
        return sprint_value(v)

    def walk_if_with(self, dot: object, node: p.Branch) -> None:
        mark = len(self.vars)
        val = self.eval_pipeline(dot, node.pipe)
        if truth(val):
            self.walk(val if node.kind == "with" else dot, node.body)
        elif node.else_body is not None:
            self.walk(dot, node.else_body)
        del self.vars[mark:]

    def walk_range(self, dot: object, node: p.Branch) -> None:
        mark = len(self.vars)
        try:
            val = self.eval_pipeline(dot, node.pipe)
            decl = node.pipe.decl
            inner_mark = len(self.vars)

            def one(index: object, elem: object) -> None:
                if decl:
                    if node.pipe.is_assign:
                        if len(decl) > 1:
                            self.set_var(decl[0], index)
                        else:
                            self.set_var(decl[0], elem)
                    else:
                        self.set_top(1, elem)
                if len(decl) > 1:
                    if node.pipe.is_assign:
                        self.set_var(decl[1], elem)
                    else:
                        self.set_top(2, index)
                try:
                    self.walk(elem, node.body)
                except _Continue:
                    pass
                finally:
                    del self.vars[inner_mark:]

            items: list[tuple[object, object]]
            if isinstance(val, bool) or val is None or val is NO_VALUE:
                if isinstance(val, bool):
                    raise self.error(f"range can't iterate over {sprint_value(val)}", node)
                items = []
            elif isinstance(val, int):
                if len(decl) > 1:
                    raise self.error(
                        f"can't use {val} to iterate over more than one variable", node
                    )
                items = [(NO_VALUE, i) for i in range(val)]
            elif isinstance(val, list):
                items = list(enumerate(val))
            elif isinstance(val, dict):
                items = [(k, val[k]) for k in sorted(val)]
            else:
                raise self.error(f"range can't iterate over {sprint_value(val)}", node)
            if items:
                for index, elem in items:
                    one(index, elem)
                return
        except _Break:
            return
        finally:
            del self.vars[mark:]
        if node.else_body is not None:
            self.walk(dot, node.else_body)

    # ----------------------------------------------------------- variables
    def set_var(self, name: str, value: object) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value)
                return
        raise TemplateError(f"undefined variable: {name}", self.text, 0)

    def set_top(self, n: int, value: object) -> None:
        name = self.vars[-n][0]
        self.vars[-n] = (name, value)

    def var_value(self, name: str, node: p.Node) -> object:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                return self.vars[i][1]
        raise self.error(f"undefined variable: {name}", node)

    # ---------------------------------------------------------- pipelines
    def eval_pipeline(self, dot: object, pipe: p.Pipeline) -> object:
        value: object = MISSING
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
        value = _lovely(value)
        for name in pipe.decl:
            if pipe.is_assign:
                self.set_var(name, value)
            else:
                self.vars.append((name, value))
        return value

    def not_a_function(self, args: list[p.Node], final: object) -> None:
        if len(args) > 1 or final is not MISSING:
            raise self.error(
                f"can't give argument to non-function {self.node_text(args[0])}", args[0]
            )

    def node_text(self, node: p.Node) -> str:
        return self.text[node.pos : node.pos + 20].split("}}")[0].split(" ")[0]

    def eval_command(self, dot: object, cmd: p.Command, final: object) -> object:
        first = cmd.args[0]
        t = type(first)
        if t is p.Field:
            return self.eval_field_chain(dot, dot, first, first.names, cmd.args, final)
        if t is p.Chain:
            return self.eval_chain(dot, first, cmd.args, final)
        if t is p.Identifier:
            return self.eval_function(dot, first, cmd.args, final)
        if t is p.Pipeline:
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)
        if t is p.Variable:
            return self.eval_variable(dot, first, cmd.args, final)
        self.not_a_function(cmd.args, final)
        if t is p.Dot:
            return dot
        if t is p.Literal:
            if first.kind == "nil":
                raise self.error("nil is not a command", first)
            return first.value
        raise self.error(f"can't evaluate command {first!r}", first)  # pragma: no cover

    def eval_variable(
        self, dot: object, node: p.Variable, args: list[p.Node], final: object
    ) -> object:
        value = self.var_value(node.names[0], node)
        if len(node.names) == 1:
            self.not_a_function(args, final)
            return value
        return self.eval_field_chain(dot, value, node, node.names[1:], args, final)

    def eval_chain(self, dot: object, chain: p.Chain, args: list[p.Node], final: object) -> object:
        pipe = self.eval_arg_any(dot, chain.node)
        return self.eval_field_chain(dot, pipe, chain, chain.fields, args, final)

    def eval_field_chain(
        self,
        dot: object,
        receiver: object,
        node: p.Node,
        names: tuple[str, ...],
        args: list[p.Node],
        final: object,
    ) -> object:
        n = len(names)
        for i in range(n - 1):
            receiver = self.eval_field(names[i], node, [], MISSING, receiver)
        return self.eval_field(names[n - 1], node, args, final, receiver)

    def eval_field(
        self, name: str, node: p.Node, args: list[p.Node], final: object, receiver: object
    ) -> object:
        if receiver is NO_VALUE:
            raise self.error(f'nil data; no entry for key "{name}"', node)
        if receiver is None:
            raise self.error(f"nil pointer evaluating interface {{}}.{name}", node)
        if isinstance(receiver, dict):
            if len(args) > 1 or final is not MISSING:
                raise self.error(f"{name} is not a method but has arguments", node)
            try:
                return receiver[name]
            except KeyError:
                raise MissingVariableError(name, self.text, node.pos) from None
        raise self.error(f"can't evaluate field {name} in type {type_name(receiver)}", node)

    # ------------------------------------------------------------ functions
    def eval_function(
        self, dot: object, node: p.Identifier, args: list[p.Node], final: object
    ) -> object:
        fn = self.funcs[node.name]
        argn = args[1:]
        num_in = len(argn) + (0 if final is MISSING else 1)
        nparams = len(fn.params)
        if fn.variadic:
            if num_in < nparams - 1:
                raise self.error(
                    f"wrong number of args for {fn.name}: want at least {nparams - 1} got {num_in}",
                    node,
                )
        elif num_in != nparams:
            raise self.error(
                f"wrong number of args for {fn.name}: want {nparams} got {num_in}", node
            )

        def ptype(i: int) -> str:
            return fn.params[min(i, nparams - 1)]

        if fn.name in ("and", "or"):
            v: object = NO_VALUE
            want = fn.name == "or"
            for a in argn:
                v = self.eval_arg(dot, "value", a)
                if truth(v) == want:
                    return v
            if final is not MISSING:
                v = final
            return v
        values = [self.eval_arg(dot, ptype(i), a) for i, a in enumerate(argn)]
        if final is not MISSING:
            values.append(self.check_type(ptype(len(argn)), final, node))
        try:
            return fn.fn(*values)
        except TemplateError:
            raise
        except _CallError as e:
            raise self.error(f"error calling {fn.name}: {e}", node) from None

    def check_type(self, kind: str, value: object, node: p.Node) -> object:
        if kind == "string":
            if value is NO_VALUE or value is None:
                raise self.error("invalid value; expected string", node)
            if not isinstance(value, str):
                raise self.error(
                    f"wrong type for value; expected string; got {type_name(value)}", node
                )
        elif value is NO_VALUE:
            if kind == "any":
                return None
            return NO_VALUE
        return value

    def eval_arg(self, dot: object, kind: str, node: p.Node) -> object:
        t = type(node)
        if t is p.Literal:
            if node.kind == "nil":
                if kind == "any":
                    return None
                if kind == "value":
                    return NO_VALUE
                raise self.error(f"cannot assign nil to {kind}", node)
            if kind == "string" and node.kind != "string":
                raise self.error(f"expected string; found {self.node_text(node)}", node)
            return node.value
        if t is p.Dot:
            return self.check_type(kind, dot, node)
        if t is p.Identifier:
            # A function used as an argument is called with no arguments.
            return self.check_type(kind, self.eval_function(dot, node, [node], MISSING), node)
        return self.check_type(kind, self.eval_arg_any(dot, node), node)

    def eval_arg_any(self, dot: object, node: p.Node) -> object:
        t = type(node)
        if t is p.Field:
            return self.eval_field_chain(dot, dot, node, node.names, [node], MISSING)
        if t is p.Variable:
            return self.eval_variable(dot, node, [node], MISSING)
        if t is p.Pipeline:
            return self.eval_pipeline(dot, node)
        if t is p.Chain:
            return self.eval_chain(dot, node, [node], MISSING)
        if t is p.Identifier:
            return self.eval_function(dot, node, [node], MISSING)
        if t is p.Dot:
            return dot
        if t is p.Literal:
            return node.value
        raise self.error("can't handle argument", node)  # pragma: no cover


class _CallError(Exception):
    """Raised by template functions; reported as Go's "error calling NAME: ..."."""


CallError = _CallError

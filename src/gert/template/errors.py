"""Errors raised by template parsing and execution."""

from __future__ import annotations

from gert.errors import InvalidError


class TemplateError(InvalidError):
    """A template that cannot be parsed or executed; knows its position in the text."""

    def __init__(self, message: str, text: str = "", pos: int = 0):
        self.message = message
        self.text = text
        self.pos = pos
        self.line = text.count("\n", 0, pos) + 1
        self.col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        super().__init__(f"{self.line}:{self.col}: {message}")


class MissingVariableError(TemplateError):
    """A template referenced a variable (map key) that the data does not have."""

    def __init__(self, name: str, text: str = "", pos: int = 0):
        self.name = name
        super().__init__(f'map has no entry for key "{name}"', text, pos)

"""Checks of request values, collecting every problem before refusing."""

from __future__ import annotations

from typing import Any

from ..errors import BadRequest

MAX_TEXT = {"name": 200, "description": 5000}


class Problems:
    """Collects messages; ``raise_if_any`` refuses the request with all of them at once."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, message: str | None) -> None:
        if message:
            self.messages.append(message)

    def raise_if_any(self) -> None:
        if self.messages:
            raise BadRequest(self.messages)


def text(
    body: dict[str, Any], key: str, problems: Problems, *, required: bool = False
) -> str | None:
    """A string value of ``body[key]`` (stripped), or None when absent and optional."""
    if key not in body or body[key] is None:
        if required:
            problems.add(f'"{key}" is required')
        return None
    value = body[key]
    if not isinstance(value, str):
        problems.add(f'"{key}" must be a string')
        return None
    value = value.strip()
    if required and not value:
        problems.add(f'"{key}" must not be empty')
    limit = MAX_TEXT.get(key)
    if limit and len(value) > limit:
        problems.add(f'"{key}" must be at most {limit} characters')
    return value


def boolean(body: dict[str, Any], key: str, problems: Problems, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        problems.add(f'"{key}" must be true or false')
        return default
    return value

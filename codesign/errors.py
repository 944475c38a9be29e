"""Errors that carry the offending field, so the CLI can print one clear line.

Every error a user can cause by bad input is a :class:`SpecError`: it names the field (a dotted
path such as ``config.num_attention_heads`` or ``--batch``), says what is wrong, and where the
set of valid values is small, lists them.
"""

from __future__ import annotations

from collections.abc import Iterable


class CodesignError(Exception):
    """Base class of every error codesign raises on purpose."""


class SpecError(CodesignError, ValueError):
    """Bad input: a field with a value outside what is allowed.

    Args:
        field: dotted name of the offending field or CLI flag.
        message: what is wrong with it.
        allowed: the valid values, when there is a short list of them.
    """

    def __init__(self, field: str, message: str, allowed: Iterable[object] | None = None):
        self.field = field
        self.message = message
        self.allowed = tuple(allowed) if allowed is not None else None
        text = f"{field}: {message}"
        if self.allowed is not None:
            text += f" (allowed: {', '.join(str(a) for a in self.allowed)})"
        super().__init__(text)


class GraphError(CodesignError, ValueError):
    """A workload graph that is not a valid DAG of consistently shaped ops."""


def require_positive(field: str, value: int | float) -> None:
    """Raise :class:`SpecError` unless ``value`` is > 0."""
    if not value > 0:
        raise SpecError(field, f"must be > 0, got {value}")


def require_non_negative(field: str, value: int | float) -> None:
    """Raise :class:`SpecError` unless ``value`` is >= 0."""
    if not value >= 0:
        raise SpecError(field, f"must be >= 0, got {value}")

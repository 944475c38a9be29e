"""Strict JSON/YAML loading: malformed text and duplicate keys become one-line SpecErrors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from codesign.errors import SpecError


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node)
        if key in out:
            line = key_node.start_mark.line + 1
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {line})", key_node.start_mark
            )
        out[key] = loader.construct_object(value_node)
    return out


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_text_mapping(text: str, origin: str, fmt: str) -> Any:
    """Parse ``text`` as ``fmt`` (``json`` or ``yaml``); ``origin`` names it in errors."""
    if fmt == "json":
        try:
            return json.loads(text, object_pairs_hook=_no_duplicates)
        except json.JSONDecodeError as e:
            where = f"line {e.lineno}, column {e.colno}"
            raise SpecError(origin, f"malformed JSON at {where}: {e.msg}") from None
        except ValueError as e:
            raise SpecError(origin, f"malformed JSON: {e}") from None
    if fmt == "yaml":
        try:
            return yaml.load(text, Loader=_StrictLoader)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(e, "problem", None) or str(e).splitlines()[0]
            raise SpecError(origin, f"malformed YAML{where}: {problem}") from None
    raise SpecError("format", f"unknown format {fmt!r}", ["json", "yaml"])


def load_mapping(path: str | Path) -> Any:
    """Read a ``.json``, ``.yaml`` or ``.yml`` file strictly.

    Raises:
        SpecError: unreadable file, unknown suffix, malformed text or duplicate keys.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    fmt = {".json": "json", ".yaml": "yaml", ".yml": "yaml"}.get(suffix)
    if fmt is None:
        raise SpecError(str(p), f"unknown file type {suffix!r}", [".json", ".yaml", ".yml"])
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise SpecError(str(p), f"cannot read: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise SpecError(str(p), f"not UTF-8 text (byte {e.start})") from None
    return load_text_mapping(text, str(p), fmt)

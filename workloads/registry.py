"""The shipped model configurations, by name, and loading of a user's own config file."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from codesign.config import load_mapping, load_text_mapping
from codesign.errors import SpecError
from workloads.config import ModelConfig, parse_hf_config

_MODELS_PACKAGE = "workloads.models"


def model_names() -> list[str]:
    """Names of the shipped models (lowercase, hyphenated), sorted."""
    root = resources.files(_MODELS_PACKAGE)
    return sorted(p.name[: -len(".json")] for p in root.iterdir() if p.name.endswith(".json"))


@lru_cache(maxsize=64)
def _load_shipped(name: str) -> ModelConfig:
    text = resources.files(_MODELS_PACKAGE).joinpath(f"{name}.json").read_text(encoding="utf-8")
    raw = load_text_mapping(text, f"{name}.json", "json")
    return parse_hf_config(raw, name=name)


def load_model(name_or_path: str, field: str = "model") -> ModelConfig:
    """A shipped model by name, or a user's HF-style ``config.json``/YAML file by path.

    Raises:
        SpecError: unknown name (listing the known ones), unreadable or invalid file.
    """
    key = name_or_path.strip()
    if key.lower() in model_names():
        return _load_shipped(key.lower())
    path = Path(key)
    if path.suffix.lower() in (".json", ".yaml", ".yml"):
        if not path.is_file():
            raise SpecError(field, f"no such file {key!r}")
        return parse_hf_config(load_mapping(path), name=path.stem, source=str(path))
    raise SpecError(field, f"unknown model {key!r}", model_names())

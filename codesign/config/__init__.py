"""Strict loading of JSON and YAML inputs (duplicate keys rejected, errors name the line)."""

from codesign.config.loading import load_mapping, load_text_mapping

__all__ = ["load_mapping", "load_text_mapping"]

"""The one place that parses quantities with units: ``"3.35 TB/s"``, ``"400 Gb/s"``,
``"80 GB"``, ``"1.98 GHz"``, ``"700 W"``, ``"5 us"``. Results are SI base units (bytes,
bytes/s, Hz, W, s, J); decimal prefixes (k, M, G, T, P) and binary ones (Ki, Mi, Gi, Ti);
``b`` is bits (divided by 8), ``B`` bytes.
"""

from __future__ import annotations

import re

from codesign.errors import SpecError

_PREFIX = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15,
           "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40,
           "m": 1e-3, "u": 1e-6, "µ": 1e-6, "n": 1e-9, "p": 1e-12}
_UNITS = {"B": ("bytes", 1.0), "b": ("bytes", 1 / 8), "B/s": ("bytes/s", 1.0),
          "b/s": ("bytes/s", 1 / 8), "bps": ("bytes/s", 1 / 8), "Hz": ("Hz", 1.0),
          "W": ("W", 1.0), "s": ("s", 1.0), "J": ("J", 1.0), "FLOP/s": ("FLOP/s", 1.0),
          "FLOPS": ("FLOP/s", 1.0)}
_RE = re.compile(r"^\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*"
                 r"(Ki|Mi|Gi|Ti|[kKMGTPmuµnp]?)(B/s|b/s|bps|FLOP/s|FLOPS|Hz|B|b|W|s|J)\s*$")


def parse_quantity(text: str | float | int, expect: str, field: str = "value") -> float:
    """Parse ``text`` into SI units of kind ``expect`` (``bytes``, ``bytes/s``, ``Hz``, ``W``,
    ``s``, ``J``, ``FLOP/s``). Plain numbers are taken as already in SI units.

    Raises:
        SpecError: naming ``field`` when the text is not a quantity of that kind.
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    m = _RE.match(str(text))
    if not m:
        raise SpecError(field, f"cannot parse {text!r} as a quantity in {expect}")
    number, prefix, unit = m.groups()
    kind, factor = _UNITS[unit]
    if kind != expect:
        raise SpecError(field, f"{text!r} is in {kind}, expected {expect}")
    return float(number) * _PREFIX[prefix] * factor

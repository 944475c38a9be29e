"""``python -m codesign.cli``: the same as the ``codesign`` command."""

from __future__ import annotations

import sys

from codesign.cli import main

sys.exit(main())

"""Bundled design studies: one folder per study holding ``study.yaml`` (its axes and metrics),
a ``README.md`` and, where a test checks it, ``expected_summary.json``. The folders are data,
found with ``importlib.resources.files("studies")`` by :func:`codesign.study.load_study`."""

"""Runners of study kinds other than ``model`` (``kind: network``...).

The core reads and validates every study file (:mod:`codesign.study.spec`) and runs
``model`` studies itself (:func:`codesign.study.runner.run_study`); a family that computes
another kind registers a :class:`StudyRunner` under the kind's name in :data:`STUDY_RUNNERS`,
through the ``codesign.studies`` entry-point group (the network family: ``network``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from codesign.hw.registry import Registry

if TYPE_CHECKING:
    from pydantic import BaseModel


class StudyOutcome(Protocol):
    """What a study run produced (the files are written by then)."""

    @property
    def spec(self) -> BaseModel: ...

    @property
    def table(self) -> Any:
        """The results table (a pandas DataFrame, also in ``results.parquet``)."""
        ...

    @property
    def summary(self) -> dict[str, Any]:
        """What ``summary.json`` holds; ``kind`` names the study kind."""
        ...

    @property
    def out_dir(self) -> Path: ...

    @property
    def report_path(self) -> Path: ...


class StudyRunner(Protocol):
    """Evaluate a study of the runner's kind and write its output folder."""

    def __call__(self, spec: BaseModel, out_dir: str | Path, progress: bool = False,
                 overwrite: bool = False) -> StudyOutcome:
        """Write ``results.parquet``, ``summary.json``, ``study.yaml`` and ``report.html``
        into ``out_dir`` (rules as :func:`codesign.study.runner.run_study`).

        Raises:
            SpecError: a spec of another kind, or ``out_dir`` not writable or holding
                foreign files.
        """
        ...


#: runners by study kind, filled by the ``codesign.studies`` entry points
STUDY_RUNNERS: Registry[StudyRunner] = Registry("study kind", "kind",
                                                plugin_group="codesign.studies")

"""Design studies: a spec of axes (devices, batches, contexts) and metrics, a runner that
evaluates every point, and its outputs (tidy parquet table, summary, self-contained report)."""

from codesign.study.runner import StudyResult, evaluate_study, run_study
from codesign.study.spec import StudySpec, bundled_studies, load_study, spec_from_mapping

__all__ = ["StudyResult", "StudySpec", "bundled_studies", "evaluate_study", "load_study",
           "run_study", "spec_from_mapping"]

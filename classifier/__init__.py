"""Chinese review sentiment and complaint causes: text in, scores out (no database, no web).

    from classifier import get_classifier
    predictions = get_classifier().predict_many(["物流太慢了", "味道不错，就是送得太慢了"], explain=False)
    predictions[1].causes       # ('logistics',)
    predictions[1].complaints   # (Complaint(start=5, end=12, cause='logistics', prob=0.93),)

`Prediction.complaints` are the complaining clauses as offsets into the original text
(`text[c.start:c.end]`), one per clause and cause; `causes` is the union of their causes.
`model_dir()` and `shipped_model_version()` locate the shipped model and read its version without
loading it (reports, health checks). The model's names are imported on first use, so
`classifier.causes` (the cause list the web and report code share) and those two functions can be
imported without numpy, scipy or jieba.
"""

from __future__ import annotations

from typing import Any

from classifier.causes import CAUSES, SPECIFIC_CAUSES

__all__ = [
    "CAUSES",
    "SPECIFIC_CAUSES",
    "Complaint",
    "ModelError",
    "ModelIntegrityError",
    "Prediction",
    "ReviewClassifier",
    "Term",
    "get_classifier",
    "model_dir",
    "shipped_model_version",
]

_FROM_MODEL = frozenset(__all__) - {"CAUSES", "SPECIFIC_CAUSES", "model_dir", "shipped_model_version"}


def model_dir() -> Any:
    """Directory of the shipped model files (`TRIAGE_MODEL_DIR` overrides); see `classifier.model.model_dir`."""
    from classifier.shipped import model_dir as _model_dir

    return _model_dir()


def shipped_model_version() -> str | None:
    """The shipped model's version string (e.g. for reports and health checks), read from its
    metadata without loading the model; None when no model is readable."""
    from classifier.shipped import shipped_model_version as _version

    return _version()


def __getattr__(name: str) -> Any:
    if name in _FROM_MODEL:
        from classifier import model

        return getattr(model, name)
    raise AttributeError(f"module 'classifier' has no attribute {name!r}")

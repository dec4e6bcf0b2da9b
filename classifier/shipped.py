"""Where the shipped model lives and which version it is, without loading numpy or the model."""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

__all__ = ["MODEL_DIR_ENV", "MODEL_NAME", "model_dir", "shipped_model_version"]

MODEL_NAME = "review-classifier"
# Overrides where the shipped model is read from (a directory holding review-classifier.{npz,json}).
MODEL_DIR_ENV = "TRIAGE_MODEL_DIR"


def model_dir() -> Path:
    """Directory of the shipped model files.

    `TRIAGE_MODEL_DIR` when set; otherwise the `models` package's data, found through
    importlib.resources, so that a checkout, an editable install and an installed wheel agree.
    """
    override = os.environ.get(MODEL_DIR_ENV)
    if override:
        return Path(override)
    try:
        candidate = Path(str(resources.files("models")))
        if (candidate / f"{MODEL_NAME}.json").exists():
            return candidate
    except (ImportError, TypeError):
        pass
    return Path(__file__).resolve().parent.parent / "models"


def shipped_model_version(directory: Path | str | None = None) -> str | None:
    """The shipped model's version, read from its metadata without loading the arrays
    (None when there is no readable model)."""
    path = Path(directory or model_dir()) / f"{MODEL_NAME}.json"
    try:
        version = json.loads(path.read_text("utf-8")).get("version")
    except (OSError, ValueError, AttributeError):
        return None
    return version if isinstance(version, str) else None



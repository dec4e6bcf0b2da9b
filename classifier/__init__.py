"""Chinese review sentiment and complaint causes: text in, scores out (no database, no web).

    from classifier import get_classifier
    predictions = get_classifier().predict_many(["物流太慢了", "很好用"])
"""

from classifier.causes import CAUSES, SPECIFIC_CAUSES
from classifier.model import (
    ModelError,
    ModelIntegrityError,
    Prediction,
    ReviewClassifier,
    Term,
    get_classifier,
)

__all__ = [
    "CAUSES",
    "SPECIFIC_CAUSES",
    "ModelError",
    "ModelIntegrityError",
    "Prediction",
    "ReviewClassifier",
    "Term",
    "get_classifier",
]

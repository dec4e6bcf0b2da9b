"""Model files: plain data, checksummed, and refused when tampered with."""

from __future__ import annotations

import io
import json
import shutil
import zipfile

import numpy as np
import pytest

from classifier.model import MODEL_NAME, MODELS_DIR, ModelError, ModelIntegrityError, ReviewClassifier


@pytest.fixture()
def model_copy(tmp_path):
    for suffix in (".npz", ".json"):
        shutil.copy(MODELS_DIR / f"{MODEL_NAME}{suffix}", tmp_path / f"{MODEL_NAME}{suffix}")
    return tmp_path


def test_shipped_model_loads_and_reports_its_version() -> None:
    model = ReviewClassifier.load(MODELS_DIR)
    assert model.version.startswith("rc-")


def test_shipped_model_files_fit_the_size_budget() -> None:
    total = sum(p.stat().st_size for p in MODELS_DIR.iterdir() if p.is_file())
    assert total <= 30 * 1024 * 1024


def test_a_flipped_byte_is_refused(model_copy) -> None:
    path = model_copy / f"{MODEL_NAME}.npz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="checksum"):
        ReviewClassifier.load(model_copy)


def test_a_pickled_array_is_refused_even_with_a_matching_checksum(model_copy) -> None:
    """A tamperer who also rewrites the checksum still cannot make loading run a pickle."""
    path = model_copy / f"{MODEL_NAME}.npz"
    buf = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(buf, "w") as dst:
        for name in src.namelist():
            if name != "bias.npy":
                dst.writestr(name, src.read(name))
        payload = io.BytesIO()
        np.save(payload, np.array([object()], dtype=object), allow_pickle=True)
        dst.writestr("bias.npy", payload.getvalue())
    path.write_bytes(buf.getvalue())
    meta_path = model_copy / f"{MODEL_NAME}.json"
    meta = json.loads(meta_path.read_text("utf-8"))
    import hashlib

    meta["arrays_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    meta_path.write_text(json.dumps(meta), "utf-8")
    with pytest.raises(ModelIntegrityError):
        ReviewClassifier.load(model_copy)


def test_corrupt_metadata_is_refused(model_copy) -> None:
    (model_copy / f"{MODEL_NAME}.json").write_text("{not json", "utf-8")
    with pytest.raises(ModelIntegrityError):
        ReviewClassifier.load(model_copy)


def test_missing_model_says_how_to_build_it(tmp_path) -> None:
    with pytest.raises(ModelError, match="classifier train"):
        ReviewClassifier.load(tmp_path)

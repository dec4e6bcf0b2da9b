"""README and docs/ stand alone: a fresh clone has nothing beside it, so they point at nothing
outside the repository (the one exception: where `classifier train` reads the training corpus,
for developers who have it), and the README links the API reference."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_no_pointer_outside_the_repository(path):
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        assert "/work/" not in line and "CONTRACT.md" not in line, f"{path.name}:{number}: {line}"
        if "../shared" in line:
            assert "datasets/" in line, f"{path.name}:{number}: only the training corpus may live outside: {line}"


def test_the_readme_links_the_api_reference():
    assert "docs/api.md" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert (ROOT / "docs" / "api.md").is_file()


def test_the_api_reference_names_every_described_path():
    import json

    from web.api.openapi import DESCRIPTION_PATH

    reference = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    for path in json.loads(DESCRIPTION_PATH.read_text(encoding="utf-8"))["paths"]:
        # docs/api.md writes path parameters as Flask does (<id>), the description as OpenAPI does ({id}).
        stem = path.split("{")[0].rstrip("/")
        assert stem in reference, f"docs/api.md does not mention {path}"

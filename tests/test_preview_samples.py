"""Prove the preview of the shipped feeds shows exactly the bodies the release before showed.

``tests/data/preview/samples.json`` is ``poster preview --json`` over the shipped feeds.toml,
written before rendering was split from composing (each item has since named its destination);
the two must match byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from poster.cli import main

ROOT = Path(__file__).parents[1]
EXPECTED = Path(__file__).parent / "data" / "preview" / "samples.json"


def test_preview_of_the_samples_is_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    args = ["-c", "feeds.toml", "preview", "--json", "--state-dir", str(tmp_path / "none")]
    main(args)
    out = capsys.readouterr().out
    assert out == EXPECTED.read_text(encoding="utf-8")
    bodies = [i["body"] for f in json.loads(out)["feeds"] for i in f["items"] if i["body"]]
    assert len(bodies) == 12

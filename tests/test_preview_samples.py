"""Prove the preview of the shipped feeds shows exactly the bodies the release before showed.

``tests/data/preview/samples.json`` is ``poster preview --json`` over the shipped feeds.toml,
written before rendering was split from composing (each item has since named its destination);
the two must match byte for byte. The sample pictures' port is held closed, as it is when no
sandbox runs: the preview then keeps what the feeds say about them, and a sandbox another program
runs on 8765 changes nothing.
"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest

from poster.cli import main

ROOT = Path(__file__).parents[1]
EXPECTED = Path(__file__).parent / "data" / "preview" / "samples.json"
SAMPLE_PORT = b":8765/"


def test_preview_of_the_samples_is_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(ROOT / "feeds.toml", tmp_path / "feeds.toml")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    monkeypatch.chdir(tmp_path)
    with socket.socket() as closed:
        # Bound and not listening: every connection to it is refused.
        closed.bind(("127.0.0.1", 0))
        port = f":{closed.getsockname()[1]}/".encode()
        for feed in (tmp_path / "samples").iterdir():
            feed.write_bytes(feed.read_bytes().replace(SAMPLE_PORT, port))
        args = ["-c", "feeds.toml", "preview", "--json", "--state-dir", str(tmp_path / "none")]
        main(args)
    out = capsys.readouterr().out.replace(port.decode(), SAMPLE_PORT.decode())
    assert out == EXPECTED.read_text(encoding="utf-8")
    bodies = [i["body"] for f in json.loads(out)["feeds"] for i in f["items"] if i["body"]]
    assert len(bodies) == 14

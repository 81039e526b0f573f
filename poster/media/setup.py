"""Build the media stage of a run, a preview or the daemon from the configuration."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

from poster.config import Config
from poster.fetch.client import FeedClient
from poster.fetch.feed import USER_AGENT
from poster.media.cache import ProbeCache
from poster.media.jpegstore import MediaStore
from poster.media.stage import MediaStage

FOLDER = "media"
"""The state folder's sub-folder for probes and converted images."""
_HEADERS = {"User-Agent": USER_AGENT, "Accept": "image/*, video/*, */*;q=0.5"}


def media_stage(
    config: Config, state_dir: Path | None, client: FeedClient, *, read_only: bool = False
) -> MediaStage:
    """Return the stage that probes media, and converts images when ``[media] public_url`` is set.

    ``read_only`` (the preview) probes and converts in memory and writes nothing.
    """
    folder = state_dir / FOLDER if state_dir is not None else None
    cache = ProbeCache(folder / "probes.json" if folder else None, time.time, read_only=read_only)
    media = config.media
    store = None
    if media.public_url is not None and folder is not None:
        store = MediaStore(
            folder / "files",
            media.public_url,
            time.time,
            max_bytes=media.max_store,
            retention=media.retention.total_seconds(),
            read_only=read_only,
        )
    # Media requests share the feeds' transport (its pool and address checks), not its headers.
    probing = FeedClient(client.transport, headers=_HEADERS, timeout=client.timeout)
    return MediaStage(probing, cache, store)


def files_folder(state_dir: Path) -> Path:
    """Return where converted images are kept in ``state_dir``."""
    return state_dir / FOLDER / "files"


def served_path(public_url: str) -> str:
    """Return the listener path under which ``public_url``'s files are served: ``/media/``."""
    return urlsplit(public_url).path.rstrip("/") + "/"

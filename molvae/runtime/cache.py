"""Where molvae caches what it computes once (preprocessed data, reference statistics)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(kind: str) -> Path:
    """The cache folder for ``kind``: ``$MOLVAE_CACHE_DIR/<kind>``, else ``~/.cache/molvae/<kind>``."""
    root = os.environ.get("MOLVAE_CACHE_DIR") or os.path.join(Path.home(), ".cache", "molvae")
    return Path(root) / kind

"""A content-addressed, on-disk cache of remote imagery requests and their answers.

A request is a plain JSON-able mapping (method, URL path, body). Its key is the SHA-256 of its
canonical JSON (sorted keys, no whitespace, UTF-8), so the same request always finds the same
answer and any change to it (another bbox, time range or evalscript) is a new entry. Each entry
is two files in ``<root>/<key[:2]>/``:

* ``<key>.tif`` or ``<key>.json``: the response body, byte for byte;
* ``<key>.request.json``: the request itself plus what is known about the answer (when it was
  fetched, from which URL, processing units spent). It is the evidence of what was asked.

Both are written to a temporary file in the same folder and moved into place with
:func:`os.replace`, response first: an entry exists only once its request file does, so an
interrupted run never leaves a half entry that a later run would trust. The cache never holds
credentials or tokens: callers give it only the request body and selected response headers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.core.errors import FetchError
from pipeline.core.outputs import write_bytes

REQUEST_SUFFIX = ".request.json"


def canonical_json(obj: Any) -> bytes:
    """Serialise JSON-able data canonically: sorted keys, no whitespace, UTF-8, no NaN.

    Examples
    --------
    >>> canonical_json({"b": 1, "a": [1.5, "x"], "c": None})
    b'{"a":[1.5,"x"],"b":1,"c":null}'
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def request_key(request: Mapping[str, Any]) -> str:
    """Return the cache key of a request: the hex SHA-256 of its canonical JSON.

    Examples
    --------
    >>> request_key({"method": "POST", "path": "/api/v1/process", "body": {}})[:12]
    '7e05af5093b5'
    """
    return hashlib.sha256(canonical_json(request)).hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    write_bytes(path, data, fsync=True)


@dataclass(frozen=True)
class CacheEntry:
    """One cached answer: where its files are and what was recorded about it."""

    key: str
    response_path: Path
    request_path: Path
    info: dict[str, Any]

    def read(self) -> bytes:
        """Return the cached response body.

        Raises
        ------
        FetchError
            If the response file has gone missing or cannot be read.
        """
        try:
            return self.response_path.read_bytes()
        except OSError as exc:
            raise FetchError(f"cached answer {self.response_path} cannot be read "
                             f"({exc.strerror or exc}); delete {self.request_path} to fetch "
                             "it again") from exc


class FetchCache:
    """Content-addressed store of request/response pairs below one folder.

    Parameters
    ----------
    root
        Cache folder (created on first write; ``~`` is expanded).

    Examples
    --------
    >>> import tempfile
    >>> cache = FetchCache(tempfile.mkdtemp())
    >>> req = {"method": "POST", "path": "/api/v1/process", "body": {"x": 1}}
    >>> cache.get(req) is None
    True
    >>> entry = cache.put(req, b"II*", suffix=".tif", info={"processing_units": 0.1})
    >>> cache.get(req).read()
    b'II*'
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()

    def _paths(self, key: str, suffix: str) -> tuple[Path, Path]:
        folder = self.root / key[:2]
        return folder / f"{key}{suffix}", folder / f"{key}{REQUEST_SUFFIX}"

    def get(self, request: Mapping[str, Any]) -> CacheEntry | None:
        """Return the entry cached for ``request``, or None when there is none.

        Raises
        ------
        FetchError
            If the entry's request file is unreadable or describes another request (a damaged
            cache; the message says which file to delete).
        """
        key = request_key(request)
        _, request_path = self._paths(key, "")
        if not request_path.is_file():
            return None
        try:
            stored = json.loads(request_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise FetchError(f"cache entry {request_path} is unreadable ({exc}); delete it to "
                             "fetch the answer again") from exc
        if canonical_json(stored.get("request")) != canonical_json(request):
            raise FetchError(f"cache entry {request_path} holds another request than its key "
                             "says; the cache is damaged, delete that file")
        response_path, _ = self._paths(key, str(stored.get("response_suffix", "")))
        if not response_path.is_file():
            return None
        return CacheEntry(key, response_path, request_path, dict(stored.get("info", {})))

    def put(self, request: Mapping[str, Any], content: bytes, *, suffix: str,
            info: Mapping[str, Any] | None = None) -> CacheEntry:
        """Store ``content`` as the answer to ``request`` (atomically) and return the entry.

        Parameters
        ----------
        request
            The request as given to :meth:`get`.
        content
            Response body.
        suffix
            File suffix of the response, ``".tif"`` or ``".json"``.
        info
            JSON-able facts about the answer (URL, processing units, ...); never credentials.

        Raises
        ------
        FetchError
            If the cache folder cannot be written.
        """
        key = request_key(request)
        response_path, request_path = self._paths(key, suffix)
        facts = {"stored_at": datetime.now(timezone.utc).isoformat(), **dict(info or {})}
        record = {"key": key, "request": request, "response_suffix": suffix, "info": facts}
        try:
            response_path.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(response_path, content)
            _atomic_write(request_path, json.dumps(record, indent=2, sort_keys=True,
                                                   ensure_ascii=False).encode("utf-8"))
        except OSError as exc:
            raise FetchError(f"cannot write the fetch cache in {response_path.parent} "
                             f"({exc.strerror or exc}); check cache_dir in the sentinelhub "
                             "configuration section") from exc
        return CacheEntry(key, response_path, request_path, facts)

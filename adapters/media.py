"""MMS media: fetched from the gateway with its credentials, checked for type and size, kept by SHA-256."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from adapters.senders import MediaAccess

EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "application/pdf": ".pdf"}


class MediaUnavailable(Exception):
    """The gateway did not hand the file over this time: try again later."""


@dataclass(frozen=True)
class MediaStore:
    folder: Path
    allowed_prefixes: tuple[str, ...]  # only the gateway's own URLs are fetched (no SSRF through a webhook)
    auth: tuple[str, str] | None
    max_bytes: int
    types: tuple[str, ...]
    timeout: float = 10.0

    @classmethod
    def for_gateway(cls, folder: Path, access: MediaAccess, max_bytes: int, types: tuple[str, ...]) -> MediaStore:
        """Media are fetched only from the outbound gateway's own URLs, with its credentials (none: nothing is)."""
        return cls(folder, access.prefixes if access.auth else (), access.auth, max_bytes, types)

    def keep(self, item: dict[str, Any]) -> dict[str, Any]:
        """The attachment with its stored file, or a status saying why it was not stored."""
        if item.get("status") in ("stored", "refused_type", "too_large", "not_fetched", "gone"):
            return item
        if not item["url"].startswith(self.allowed_prefixes):
            return {**item, "status": "not_fetched"}
        try:
            data, kind = self._download(item["url"])
        except requests.HTTPError as exc:
            return {**item, "status": "gone", "error": str(exc.response.status_code)}
        kind = kind or item.get("content_type", "")
        if kind not in self.types:
            return {**item, "status": "refused_type", "content_type": kind}
        if data is None:
            return {**item, "status": "too_large"}
        digest = hashlib.sha256(data).hexdigest()
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / (digest + EXTENSIONS.get(kind, ""))
        if not path.exists():  # written whole or not at all: a crash leaves no torn file
            partial = path.with_suffix(path.suffix + ".partial")
            partial.write_bytes(data)
            os.replace(partial, path)
        return {
            **item,
            "status": "stored",
            "content_type": kind,
            "sha256": digest,
            "bytes": len(data),
            "file": path.name,
        }

    def _download(self, url: str) -> tuple[bytes | None, str]:
        try:
            with requests.get(url, auth=self.auth, timeout=self.timeout, stream=True) as response:
                if response.status_code >= 500 or response.status_code == 429:
                    raise MediaUnavailable(f"{response.status_code} from the gateway")
                response.raise_for_status()
                kind = response.headers.get("Content-Type", "").split(";")[0].strip()
                chunks, size = [], 0
                for chunk in response.iter_content(64 * 1024):
                    size += len(chunk)
                    if size > self.max_bytes:
                        return None, kind
                    chunks.append(chunk)
                return b"".join(chunks), kind
        except requests.HTTPError:
            raise
        except requests.RequestException as exc:
            raise MediaUnavailable(str(exc)) from exc

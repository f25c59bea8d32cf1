"""MMS media fetched from a local stand-in of Twilio's media URLs: type, size, credentials, SHA-256 names."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from adapters.media import MediaStore, MediaUnavailable
from tests.support.stack import ACCOUNT_SID, AUTH_TOKEN
from tests.support.twilio_standin import TwilioStandIn


@pytest.fixture()
def standin():
    running = TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN).start()
    yield running
    running.stop()


def store(standin: TwilioStandIn, folder: Path, auth=(ACCOUNT_SID, AUTH_TOKEN), max_bytes=1000) -> MediaStore:
    return MediaStore(folder, (standin.url + "/",), auth, max_bytes, ("image/jpeg", "image/png", "application/pdf"))


def test_a_photo_is_stored_under_its_sha256(standin, tmp_path):
    url = standin.add_media("1", b"\x89PNG" + b"x" * 100, "image/png")
    kept = store(standin, tmp_path).keep({"url": url, "content_type": "image/png"})
    digest = hashlib.sha256(b"\x89PNG" + b"x" * 100).hexdigest()
    assert kept["status"] == "stored" and kept["sha256"] == digest and kept["bytes"] == 104
    assert (tmp_path / f"{digest}.png").exists()
    assert store(standin, tmp_path).keep(kept) is kept  # kept once: a retried job does not fetch again


def test_too_large_wrong_type_and_foreign_urls_are_not_stored(standin, tmp_path):
    big = standin.add_media("2", b"x" * 5000, "image/jpeg")
    html = standin.add_media("3", b"<html>", "text/html")
    assert store(standin, tmp_path).keep({"url": big, "content_type": "image/jpeg"})["status"] == "too_large"
    assert store(standin, tmp_path).keep({"url": html, "content_type": "image/jpeg"})["status"] == "refused_type"
    foreign = {"url": "http://127.0.0.1:9/elsewhere.jpg", "content_type": "image/jpeg"}
    assert store(standin, tmp_path).keep(foreign)["status"] == "not_fetched"
    assert list(tmp_path.iterdir()) == []


def test_wrong_credentials_and_a_missing_file(standin, tmp_path):
    url = standin.add_media("4", b"\xff\xd8\xff", "image/jpeg")
    assert store(standin, tmp_path, auth=("AC0", "wrong")).keep({"url": url})["status"] == "gone"
    assert store(standin, tmp_path).keep({"url": standin.url + "/nope"})["status"] == "gone"


def test_a_gateway_that_is_down_means_try_again(tmp_path):
    dead = MediaStore(tmp_path, ("http://127.0.0.1:9/",), None, 1000, ("image/jpeg",), timeout=1)
    with pytest.raises(MediaUnavailable):
        dead.keep({"url": "http://127.0.0.1:9/x.jpg"})

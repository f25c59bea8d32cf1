"""/healthz: 200 only when Redis and the database both answer, 503 naming what is down."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sms_gateway import runtime
from sms_gateway.app import create_app
from storage.db import upgrade
from tests.support.hook import flush, settings_for


def health(settings) -> tuple[int, dict]:
    services = runtime.build(settings)
    response = create_app(services).test_client().get("/healthz")
    services.redis.close()
    services.engine.dispose()
    return response.status_code, response.get_json()


def test_health_follows_redis_and_the_database(redis_server: str, tmp_path: Path) -> None:
    flush(redis_server)
    settings = settings_for(tmp_path, redis_server)
    upgrade(settings.database_url)
    assert health(settings) == (200, {"redis": "ok", "database": "ok"})
    no_redis = dataclasses.replace(settings, redis=dataclasses.replace(settings.redis, url="unix:///nonexistent.sock"))
    assert health(no_redis) == (503, {"redis": "down", "database": "ok"})
    no_db = dataclasses.replace(
        settings,
        database=dataclasses.replace(
            settings.database, url="postgresql+psycopg2://kontor@127.0.0.1:9/kontor?connect_timeout=1"
        ),
    )
    assert health(no_db) == (503, {"redis": "ok", "database": "down"})


def test_a_sqlite_file_gone_is_unhealthy(redis_server: str, tmp_path: Path) -> None:
    flush(redis_server)
    settings = settings_for(tmp_path, redis_server)
    upgrade(settings.database_url)
    services = runtime.build(settings)
    client = create_app(services).test_client()
    assert client.get("/healthz").status_code == 200
    db_file = Path(settings.database_url.split("///", 1)[1])
    db_file.rename(db_file.with_suffix(".away"))
    assert client.get("/healthz").get_json() == {"redis": "ok", "database": "down"}
    db_file.with_suffix(".away").rename(db_file)
    assert client.get("/healthz").status_code == 200
    services.engine.dispose()

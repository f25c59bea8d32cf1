"""Issue 11: `redis.sentinel` is optional, checked at start, and chooses the one Redis client of every process."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from redis.sentinel import SentinelConnectionPool

from sms_gateway import redis_client
from sms_gateway.settings import ConfigError, Settings, load

ROOT = Path(__file__).resolve().parents[2]
SHIPPED: dict[str, Any] = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
HOSTS = ["10.0.0.1:26379", "10.0.0.2:26379", "[::1]:26380"]


def settings(tmp_path: Path, redis_section: dict[str, Any], environ: dict[str, str] | None = None) -> Settings:
    config = copy.deepcopy(SHIPPED)
    config["redis"] = redis_section
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return load(path, environ=environ or {})


def test_the_shipped_config_has_no_sentinel_and_keeps_the_embedded_redis(tmp_path: Path) -> None:
    s = settings(tmp_path, SHIPPED["redis"])
    assert not s.redis.uses_sentinel and s.embedded_redis and redis_client.replica_wait_ms(s) == 0
    assert settings(tmp_path, {"url": ""}).redis.sentinel.hosts == []  # the section may be left out
    client = redis_client.connect(settings(tmp_path, {"url": "redis://127.0.0.1:6390/2"}))
    assert client.connection_pool.connection_kwargs["db"] == 2
    assert client.connection_pool.connection_kwargs["socket_timeout"] == 5


def test_with_sentinel_every_process_asks_the_sentinels_for_the_primary(tmp_path: Path) -> None:
    s = settings(
        tmp_path,
        {"url": "redis://:s3cret@/3", "sentinel": {"hosts": HOSTS, "master": "kontor", "password": ""}},
        {"KONTOR_REDIS_SENTINEL_PASSWORD": "watch"},
    )
    assert s.redis.uses_sentinel and not s.embedded_redis and redis_client.replica_wait_ms(s) > 0
    assert s.redis.sentinel.password == "watch"
    assert s.redis.sentinel.addresses == [("10.0.0.1", 26379), ("10.0.0.2", 26379), ("::1", 26380)]
    client = redis_client.connect(s)  # nothing is contacted until the first command
    pool = client.connection_pool
    assert isinstance(client, redis.Redis) and isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "kontor" and pool.is_master
    assert pool.connection_kwargs["password"] == "s3cret" and pool.connection_kwargs["db"] == 3
    sentinel = pool.sentinel_manager.sentinels[0].connection_pool.connection_kwargs
    assert sentinel["password"] == "watch" and sentinel["host"] == "10.0.0.1"


@pytest.mark.parametrize(
    ("sentinel", "message"),
    [
        ({"hosts": ["10.0.0.1"]}, "redis.sentinel.hosts: expected host:port"),
        ({"hosts": ["10.0.0.1:x"]}, "redis.sentinel.hosts: expected host:port"),
        ({"hosts": HOSTS, "master": ""}, "redis.sentinel.master: required"),
        ({"hosts": HOSTS, "quorum": 2}, "unknown setting(s): redis.sentinel.quorum"),
    ],
)
def test_a_wrong_sentinel_setting_is_named(tmp_path: Path, sentinel: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        settings(tmp_path, {"url": "", "sentinel": sentinel})

"""The phone store on a real redis-server: atomic lock/load and save/unlock, TTL, lock safety."""
from __future__ import annotations

import threading

import pytest
from redis.crc import key_slot

from storage.phones import LockLost, PhoneBusy, PhoneStore, Stored

PHONE = "+989121234567"


def test_save_and_load_round_trip(redis_client) -> None:
    store = PhoneStore(redis_client, ttl_seconds=120, lock_seconds=5)
    assert store.begin(PHONE, "t1").dialog is None
    store.commit(PHONE, "t1", Stored({"step": "nid", "lang": "fa"}, ["SM1"], ["ok"]))
    loaded = store.begin(PHONE, "t2")
    assert loaded.dialog == {"step": "nid", "lang": "fa"} and loaded.seen == ["SM1"] and loaded.reply == ["ok"]
    store.release(PHONE, "t2")
    ttl = redis_client.ttl(f"kontor:{{{PHONE}}}:s")
    assert 100 < ttl <= 120


def test_an_ended_dialog_is_deleted(redis_client) -> None:
    store = PhoneStore(redis_client, ttl_seconds=120, lock_seconds=5)
    store.begin(PHONE, "t1")
    store.commit(PHONE, "t1", Stored({"step": "bill"}, [], []))
    store.begin(PHONE, "t2")
    store.commit(PHONE, "t2", Stored(None, [], []))
    assert redis_client.exists(f"kontor:{{{PHONE}}}:s") == 0


def test_a_second_message_waits_for_the_lock(redis_client) -> None:
    store = PhoneStore(redis_client, ttl_seconds=120, lock_seconds=5)
    store.begin(PHONE, "first")
    with pytest.raises(PhoneBusy):
        store.begin(PHONE, "second", wait_seconds=0.2)
    got: list[Stored] = []
    waiter = threading.Thread(target=lambda: got.append(store.begin(PHONE, "second", wait_seconds=5)))
    waiter.start()
    store.commit(PHONE, "first", Stored({"step": "nid"}, ["SM1"], []))
    waiter.join(5)
    assert got and got[0].dialog == {"step": "nid"}


def test_a_save_after_losing_the_lock_is_refused(redis_client) -> None:
    store = PhoneStore(redis_client, ttl_seconds=120, lock_seconds=5)
    store.begin(PHONE, "slow")
    redis_client.delete(f"kontor:{{{PHONE}}}:lock")          # the lock expired meanwhile
    store.begin(PHONE, "fast")
    store.commit(PHONE, "fast", Stored({"step": "date"}, [], []))
    with pytest.raises(LockLost):
        store.commit(PHONE, "slow", Stored({"step": "bill"}, [], []))
    assert store.peek(PHONE).dialog == {"step": "date"}


def test_keys_of_one_phone_share_a_cluster_slot(redis_client) -> None:
    store = PhoneStore(redis_client, ttl_seconds=120, lock_seconds=5)
    slots = {key_slot(key.encode()) for key in store.keys(PHONE)}
    assert len(slots) == 1
    assert key_slot(f"kontor:{{{PHONE}}}:anything".encode()) in slots

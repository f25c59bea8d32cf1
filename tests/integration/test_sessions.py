"""The phone store on a real redis-server: atomic lock/load and save/unlock, TTL, lock safety."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import pytest
from redis.crc import key_slot

from dialogs.model import Meter, Register, Session
from storage.phones import LockLost, PhoneBusy, PhoneStore, Stored

PHONE = "+989121234567"


def dialog(step: str, lang: str = "fa") -> Session:
    """An open dialog at `step` (past the bill, it knows the meter)."""
    meter = Meter("1234567804121", "single", (Register("mid", 5, 0, "04512"),), "2026-10-27")
    return Session("SM1", lang, step, datetime(2026, 11, 26, 10, 0), meter=meter)


def test_save_and_load_round_trip(redis_client) -> None:
    store = PhoneStore(redis_client, ttl_seconds=120, lock_seconds=5)
    assert store.begin(PHONE, "t1").dialog is None
    store.commit(PHONE, "t1", Stored(dialog("nid"), ["SM1"], ["ok"]))
    loaded = store.begin(PHONE, "t2")
    assert loaded.dialog == dialog("nid") and loaded.seen == ["SM1"] and loaded.reply == ["ok"]
    store.release(PHONE, "t2")
    ttl = redis_client.ttl(f"kontor:{{{PHONE}}}:s")
    assert 100 < ttl <= 120


def test_an_ended_dialog_is_deleted(redis_client) -> None:
    store = PhoneStore(redis_client, ttl_seconds=120, lock_seconds=5)
    store.begin(PHONE, "t1")
    store.commit(PHONE, "t1", Stored(dialog("bill"), [], []))
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
    store.commit(PHONE, "first", Stored(dialog("nid"), ["SM1"], []))
    waiter.join(5)
    assert got and got[0].dialog == dialog("nid")


def test_a_save_after_losing_the_lock_is_refused(redis_client) -> None:
    store = PhoneStore(redis_client, ttl_seconds=120, lock_seconds=5)
    store.begin(PHONE, "slow")
    redis_client.delete(f"kontor:{{{PHONE}}}:lock")  # the lock expired meanwhile
    store.begin(PHONE, "fast")
    store.commit(PHONE, "fast", Stored(dialog("date"), [], []))
    with pytest.raises(LockLost):
        store.commit(PHONE, "slow", Stored(dialog("bill"), [], []))
    assert store.peek(PHONE).dialog == dialog("date")


def test_keys_of_one_phone_share_a_cluster_slot(redis_client) -> None:
    store = PhoneStore(redis_client, ttl_seconds=120, lock_seconds=5)
    slots = {key_slot(key.encode()) for key in store.keys(PHONE)}
    assert len(slots) == 1
    assert key_slot(f"kontor:{{{PHONE}}}:anything".encode()) in slots


def test_every_key_of_a_phone_is_prefixed_and_in_its_slot(redis_client) -> None:
    store = PhoneStore(redis_client, ttl_seconds=120, lock_seconds=5)
    for key in store.keys(PHONE):
        assert key.startswith(f"kontor:{{{PHONE}}}:")
    assert store.global_key(1_700_000_000.5) == "kontor:rate:global:1700000000"


def test_a_message_waiting_for_the_lock_is_counted_once(redis_client) -> None:
    """The wait runs the same lock-and-load script, counting nothing again; it still reads the opt-out flag."""
    store = PhoneStore(redis_client, ttl_seconds=120, lock_seconds=5)
    store.begin(PHONE, "first")
    redis_client.set(f"kontor:{{{PHONE}}}:optout", "1")
    gates = []
    waiter = threading.Thread(target=lambda: gates.append(store.enter(PHONE, "second", 5, 100)))
    waiter.start()
    time.sleep(0.3)  # several tries while "first" holds the lock
    store.commit(PHONE, "first", Stored(dialog("nid"), ["SM1"], []))
    waiter.join(5)
    assert gates and gates[0].state == "open" and gates[0].stored.dialog.step == "nid" and gates[0].opted_out
    assert redis_client.get(f"kontor:{{{PHONE}}}:rate") == b"1"
    assert redis_client.get(f"kontor:{{{PHONE}}}:lock") == b"second"


def test_over_the_limit_the_record_is_loaded_but_not_locked(redis_client) -> None:
    store = PhoneStore(redis_client, ttl_seconds=120, lock_seconds=5)
    first = store.enter(PHONE, "t1", 1, 100)
    store.commit(PHONE, "t1", Stored(dialog("nid"), ["SM1"], []))
    over, again = store.enter(PHONE, "t2", 1, 100), store.enter(PHONE, "t3", 1, 100)
    assert first.state == "open" and not first.notice
    assert over.state == "limited" and over.notice and over.stored.dialog.step == "nid"
    assert again.state == "limited" and not again.notice  # one notice per window
    assert not redis_client.exists(f"kontor:{{{PHONE}}}:lock")
    assert 0 < redis_client.ttl(f"kontor:{{{PHONE}}}:rate") <= 60


def test_stop_ends_the_dialog_and_start_lifts_the_flag(redis_client) -> None:
    store = PhoneStore(redis_client, ttl_seconds=120, lock_seconds=5)
    store.begin(PHONE, "t1")
    store.commit(PHONE, "t1", Stored(dialog("nid"), ["SM1"], []))
    store.begin(PHONE, "t2")
    with pytest.raises(LockLost):
        store.stop(PHONE, "not-ours")
    store.stop(PHONE, "t2")
    assert store.opted_out(PHONE) and store.peek(PHONE).dialog is None
    assert not redis_client.exists(f"kontor:{{{PHONE}}}:lock") and redis_client.ttl(f"kontor:{{{PHONE}}}:optout") == -1
    store.start(PHONE)
    assert not store.opted_out(PHONE)
    store.opt_out(PHONE)  # over the limit: the flag alone, no lock needed
    assert store.opted_out(PHONE)


def test_inquire_is_counted_per_phone_per_hour(redis_client) -> None:
    store = PhoneStore(redis_client, ttl_seconds=120, lock_seconds=5)
    assert [store.inquire_allowed(PHONE, 2) for _ in range(4)] == [
        (True, False),
        (True, False),
        (False, True),
        (False, False),
    ]
    assert store.inquire_allowed("+989351234567", 2) == (True, False)
    assert 3500 < redis_client.ttl(f"kontor:{{{PHONE}}}:inquire") <= 3600

"""The steps table: its order is the dialog's, and a row that applies only under some rules is skipped otherwise."""

from __future__ import annotations

import dataclasses

from dialogs import Media
from dialogs.steps import STEPS
from tests.unit.test_conversations import summary, walk_to

CARD = Media("https://media.example/MM2/card.jpg", "image/jpeg")


def test_the_table_is_the_order_of_the_service_card():
    assert [s.name for s in STEPS] == ["bill", "nid", "reading", "date", "desc", "receipt", "card", "confirm"]


def test_the_card_step_is_asked_only_where_the_rules_require_it(kit):
    rules = dataclasses.replace(kit.RULES, require_national_card=True)
    phone = kit.Phone(rules=rules)
    walk_to(kit, phone, "receipt")
    assert phone.send("12345678") == [kit.t("ask_card")]
    assert phone.send("0") == [kit.t("err_card_required") + "\n" + kit.t("ask_card")]
    assert phone.send("", (CARD,)) == [summary(kit, "fa", kit.SINGLE, kit.NID, {"mid": "04517"}, "1405/09/01")]
    phone.send("1")
    [request] = phone.finished()
    assert request["attachments"] == [{"url": CARD.url, "content_type": "image/jpeg", "step": "card"}]


def test_a_required_receipt_refuses_zero(kit):
    phone = kit.Phone(rules=dataclasses.replace(kit.RULES, require_receipt=True))
    walk_to(kit, phone, "receipt")
    assert phone.send("0") == [kit.t("err_receipt_required") + "\n" + kit.t("ask_receipt")]
    assert phone.step == "receipt"

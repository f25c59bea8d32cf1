"""Inbound channels: each is one blueprint that verifies its gateway's request, builds a dialogs.model.Inbound,
hands it to the handler (channels.common) and renders the replies in its own format, with its own error answer.

A channel listens only when its config section turns it on (`enabled`); Twilio always does, as it always has.
Adding a channel: one module here with `PATH`, `enabled(settings)` and `blueprint(services)`, one line in CHANNELS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Blueprint, Flask

from sms_gateway.channels import kavenegar, twilio, ussd
from sms_gateway.runtime import Services
from sms_gateway.settings import Settings


def always(settings: Settings) -> bool:
    """Twilio's webhook is always served: with no auth_token, a local secret signs it (local runs, tests)."""
    return True


@dataclass(frozen=True)
class Channel:
    path: str  # where its gateway posts inbound messages (a <part> is filled in from the config)
    blueprint: Callable[[Services], Blueprint]
    enabled: Callable[[Settings], bool] = always
    more: tuple[str, ...] = field(default=())  # its other URLs (delivery reports)


CHANNELS = {
    "twilio": Channel(twilio.PATH, twilio.blueprint),
    "kavenegar": Channel(kavenegar.PATH, kavenegar.blueprint, kavenegar.enabled, (kavenegar.DELIVERY_PATH,)),
    "ussd": Channel(ussd.PATH, ussd.blueprint, ussd.enabled),
}


def enabled(settings: Settings) -> dict[str, Channel]:
    """The channels this config turns on."""
    return {name: channel for name, channel in CHANNELS.items() if channel.enabled(settings)}


def register(app: Flask, services: Services) -> None:
    """Every enabled channel's routes on the app."""
    for channel in enabled(services.settings).values():
        app.register_blueprint(channel.blueprint(services))


def webhook_urls(base_url: str, settings: Settings | None = None) -> list[str]:
    """The URL each (enabled) channel's gateway is configured to call; a secret in a path is shown as <its name>."""
    chosen = CHANNELS if settings is None else enabled(settings)
    return [base_url.rstrip("/") + path for channel in chosen.values() for path in (channel.path, *channel.more)]

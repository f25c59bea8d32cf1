"""Inbound channels: each is one blueprint that verifies its gateway's request, builds a dialogs.model.Inbound,
hands it to the handler (channels.common) and renders the replies in its own format, with its own error answer.

Adding a channel: one module here with `PATH` and `blueprint(services) -> Blueprint`, one line in CHANNELS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, Flask

from sms_gateway.channels import twilio
from sms_gateway.runtime import Services


@dataclass(frozen=True)
class Channel:
    path: str  # where its gateway posts inbound messages
    blueprint: Callable[[Services], Blueprint]


CHANNELS = {"twilio": Channel(twilio.PATH, twilio.blueprint)}


def register(app: Flask, services: Services) -> None:
    """Every channel's route on the app."""
    for channel in CHANNELS.values():
        app.register_blueprint(channel.blueprint(services))


def webhook_urls(base_url: str) -> list[str]:
    """The URL each channel's gateway is configured to post to."""
    return [base_url.rstrip("/") + channel.path for channel in CHANNELS.values()]

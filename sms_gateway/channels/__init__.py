"""Inbound channels: each is one blueprint that verifies its gateway's request, builds a dialogs.model.Inbound,
hands it to the handler (channels.common) and renders the replies in its own format, with its own error answer.

Adding a channel: one module here with `blueprint(services) -> Blueprint`, one line in CHANNELS.
"""
from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask

from sms_gateway.channels import twilio
from sms_gateway.runtime import Services

CHANNELS: dict[str, Callable[[Services], Blueprint]] = {"twilio": twilio.blueprint}


def register(app: Flask, services: Services) -> None:
    """Every channel's route on the app."""
    for make in CHANNELS.values():
        app.register_blueprint(make(services))

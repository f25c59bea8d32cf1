"""Mobile ownership (Shahkar-style): does the texting mobile belong to the national ID the request names."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote

from adapters.http import JsonClient, OutsideSystemError

if TYPE_CHECKING:
    from sms_gateway.settings import Settings


class MobileOwnership(Protocol):
    def owner_matches(self, mobile_e164: str, national_id: str) -> bool:
        """True only when the operator registers this mobile to this national ID."""


class HttpMobileOwnership(JsonClient):
    """The mobile-ownership HTTP JSON API (openapi/mobile-ownership.yaml)."""

    system = "mobile_ownership"

    def owner_matches(self, mobile_e164: str, national_id: str) -> bool:
        """GET /{mobile}/owner/{national_id}; the + of E.164 travels percent-encoded."""
        data = self.get_json(f"/{quote(mobile_e164, safe='')}/owner/{quote(national_id, safe='')}")
        assert data is not None
        if not isinstance(data.get("match"), bool):
            raise OutsideSystemError(self.system, 200, f"malformed ownership answer {data!r}")
        return bool(data["match"])


def from_settings(settings: Settings) -> HttpMobileOwnership:
    """The HTTP client for the configured mobile-ownership system (the sandbox when its url is "")."""
    return HttpMobileOwnership(settings.endpoint("mobile_ownership"), settings.outside_systems)

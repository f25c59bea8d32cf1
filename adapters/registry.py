"""Civil registration (ثبت احوال): is a national ID a living person, asked before submitting in its name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote

from adapters.http import JsonClient, OutsideSystemError

if TYPE_CHECKING:
    from sms_gateway.settings import Settings


@dataclass(frozen=True)
class PersonStatus:
    """What the registry says of a national ID: known at all, and alive."""

    found: bool
    alive: bool


class CivilRegistry(Protocol):
    def person(self, national_id: str) -> PersonStatus:
        """The registry's record of this national ID (found=False when unknown)."""


class HttpCivilRegistry(JsonClient):
    """The civil registry's HTTP JSON API (openapi/civil-registry.yaml)."""

    system = "civil_registry"

    def person(self, national_id: str) -> PersonStatus:
        """GET /persons/{national_id}; an unknown ID answers found=false, not 404."""
        data = self.get_json(f"/persons/{quote(national_id, safe='')}")
        assert data is not None
        found, alive = data.get("found"), data.get("alive")
        if not isinstance(found, bool) or not isinstance(alive, bool):
            raise OutsideSystemError(self.system, 200, f"malformed person answer {data!r}")
        return PersonStatus(found, found and alive)


def from_settings(settings: Settings) -> HttpCivilRegistry:
    """The HTTP client for the configured civil registry (the sandbox when its url is "")."""
    return HttpCivilRegistry(settings.endpoint("civil_registry"), settings.outside_systems)

"""The one way to say "this answer is wrong": a catalogue code, replied in the subscriber's language."""

from __future__ import annotations

from dialogs.catalogue import Catalogue


class Refused(ValueError):
    """An answer refused by a check; `code` names the catalogue text `err_<code>`, `params` fill it in."""

    def __init__(self, code: str, **params: str) -> None:
        super().__init__(code)
        self.code: str = code
        self.params: dict[str, str] = dict(params)


def refusal_text(err: Refused, lang: str, catalogue: Catalogue) -> str:
    """The reply that names the problem (a service code such as "water" in the subscriber's words)."""
    params = dict(err.params)
    if "service" in params:
        params["service"] = catalogue.service(params["service"], lang)
    return catalogue.text(f"err_{err.code}", lang, **params)

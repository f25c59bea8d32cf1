"""The message catalogue: all subscriber-facing words live in messages.yaml, not in code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from dialogs.text import keyword_form, script_of

LANGUAGES = ("fa", "en")
TAKES_ARGUMENT = frozenset({"inquire"})  # other keywords count only alone, so a description may use the words


@dataclass(frozen=True)
class Catalogue:
    messages: dict[str, dict[str, str]]
    keywords: dict[str, frozenset[str]]
    registers: dict[str, dict[str, str]]
    statuses: dict[str, dict[str, str]]
    services: dict[str, dict[str, str]]

    @classmethod
    def from_yaml(cls, text: str) -> Catalogue:
        raw: dict[str, Any] = yaml.safe_load(text)
        keywords = {name: frozenset(keyword_form(w) for w in words) for name, words in raw["keywords"].items()}
        return cls(raw["messages"], keywords, raw["registers"], raw["statuses"], raw["services"])

    def text(self, key: str, lang: str, **params: Any) -> str:
        return self.messages[key][lang].format(**params)

    def register(self, name: str, lang: str) -> str:
        return self.registers[name][lang]

    def service(self, name: str, lang: str) -> str:
        return self.services.get(name, {}).get(lang, name)

    def status(self, name: str, lang: str) -> str:
        return self.statuses.get(name, {}).get(lang, name)

    def match_keyword(self, text: str) -> tuple[str, str, str] | None:
        """(keyword, language it was written in, the rest) when the message is a keyword (INQUIRE may take a number)."""
        words = text.split(" ", 1)
        head, rest = keyword_form(words[0]), words[1].strip() if len(words) > 1 else ""
        for name, forms in self.keywords.items():
            if head in forms and (not rest or name in TAKES_ARGUMENT):
                return name, script_of(words[0]) or "en", rest
        return None

"""The message catalogue: all subscriber-facing words live in messages.yaml, not in code."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from dialogs.text import keyword_form, normalize, script_of

LANGUAGES = ("fa", "en")
TAKES_ARGUMENT = frozenset({"inquire"})  # other keywords count only alone, so a description may use the words


@dataclass(frozen=True)
class Catalogue:
    messages: dict[str, dict[str, str]]
    keywords: dict[str, frozenset[str]]
    registers: dict[str, dict[str, str]]
    statuses: dict[str, dict[str, str]]
    services: dict[str, dict[str, str]]
    labels: dict[str, tuple[str, ...]] = field(default_factory=dict)  # step -> words a subscriber may put first
    channels: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)  # channel -> its own wordings

    @classmethod
    def from_yaml(cls, text: str) -> Catalogue:
        raw: dict[str, Any] = yaml.safe_load(text)
        keywords = {name: frozenset(keyword_form(w) for w in words) for name, words in raw["keywords"].items()}
        labels = {
            step: tuple(sorted((normalize(w).casefold() for w in words), key=len, reverse=True))
            for step, words in raw.get("labels", {}).items()
        }
        return cls(
            raw["messages"],
            keywords,
            raw["registers"],
            raw["statuses"],
            raw["services"],
            labels,
            raw.get("channels", {}),
        )

    def on(self, channel: str) -> Catalogue:
        """The catalogue as a channel words it: its own entries (a USSD menu, keypad prompts) over the common ones."""
        own = self.channels.get(channel)
        return dataclasses.replace(self, messages={**self.messages, **own}, channels={}) if own else self

    def unlabelled(self, step: str, text: str) -> str:
        """An answer without the label a subscriber put before it (`کد ملی ۰۰۱…`, `Bill ID: …`) or a final stop."""
        text = text.rstrip(".\u06d4 ")
        folded = text.casefold()
        for label in self.labels.get(step, ()):
            if folded.startswith(label) and re.match(r"[\s:=\-]*[0-9]", folded[len(label) :]):
                return re.sub(r"^[\s:=\-]*", "", text[len(label) :])
        return text

    def text(self, key: str, lang: str, **params: Any) -> str:
        return self.messages[key][lang].format(**params)

    def register(self, name: str, lang: str) -> str:
        return self.registers[name][lang]

    def service(self, name: str, lang: str) -> str:
        return self.services.get(name, {}).get(lang, name)

    def status(self, name: str, lang: str) -> str:
        return self.statuses.get(name, {}).get(lang, name)

    def keyword(self, word: str) -> tuple[str, str] | None:
        """(keyword, language it was written in) when `word` is one of the keywords."""
        head = keyword_form(word)
        return next(((name, script_of(word) or "en") for name, forms in self.keywords.items() if head in forms), None)

    def match_keyword(self, text: str) -> tuple[str, str, str] | None:
        """(keyword, language it was written in, the rest) when the message is a keyword (INQUIRE may take a number)."""
        words = text.split(" ", 1)
        head, rest = keyword_form(words[0]), words[1].strip() if len(words) > 1 else ""
        for name, forms in self.keywords.items():
            if head in forms and (not rest or name in TAKES_ARGUMENT):
                return name, script_of(words[0]) or "en", rest
        return None

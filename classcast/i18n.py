"""Marking user-facing messages for translation where Flask is not imported (store modules, shared code).

The source language of ClassCast's messages is Russian, the language of its users; English is a
translation. `N_` only marks a message so that `pybabel extract` finds it; `Message` carries a marked
message with the values to put in it. The web layer translates either for the request's language when
it answers (`controller.i18n.translate`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


def N_(message: str) -> str:  # noqa: N802 - the conventional name the extractor looks for
    return message


@dataclass(frozen=True)
class Message:
    """A marked message and its values, translated only when a request's language is known."""

    text: str
    values: Mapping[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.text % dict(self.values) if self.values else self.text

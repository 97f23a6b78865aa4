"""Marking user-facing messages for translation where Flask is not imported (store modules, shared code).

The source language of ClassCast's messages is Russian, the language of its users; English is a
translation. `N_` only marks a message so that `pybabel extract` finds it; the web layer translates it
for the request's language when it answers (`controller.i18n.translate`).
"""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - the conventional name the extractor looks for
    return message

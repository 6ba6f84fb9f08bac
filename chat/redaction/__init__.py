"""Personal data out of chat text: the one public face of the redaction family.

``Redactor`` (deduce plus our own rules, loaded on first use) and the pure
helpers ``find_all``, ``merge`` and ``apply`` live in ``chat.redaction.redactor``;
the rules themselves in ``rules`` (numbers and contacts), ``names`` (people,
places, addresses, schools) and ``words`` (the word lists); deduce is wrapped
in ``deduce_engine``, which only ``Redactor`` imports, and only when it first
redacts, so importing this package stays cheap.
"""

from chat.redaction.redactor import Item, Redacted, Redactor, apply, find_all, merge, run_cli

__all__ = ["Item", "Redacted", "Redactor", "find_all", "merge", "apply", "run_cli"]

"""Adversarial inputs for the regexes of triage and redaction: 4,000 characters (CHAT_MAX_TEXT_CHARS) each, shaped
to make backtracking regexes (nested or overlapping quantifiers) take super-linear time.

Shared by bench/bench_adversarial.py (prints the worst case) and tests/redaction/test_adversarial.py (a CPU budget).
"""

from __future__ import annotations

LENGTH = 4000


def _fit(pattern: str, tail: str = "") -> str:
    body = (pattern * (LENGTH // max(1, len(pattern)) + 1))[: LENGTH - len(tail)]
    return body + tail


def adversarial_inputs() -> dict[str, str]:
    """name -> a text of exactly 4,000 characters."""
    cases = {
        "a-apostrophe": _fit("a'"),
        "aaa-underscores-at": "aaa" + "_" * (LENGTH - 4) + "@",
        "letters": _fit("a"),
        "letters-at-end": _fit("a", "@"),
        "at-signs": _fit("@"),
        "a-at": _fit("a@"),
        "a-dot": _fit("a."),
        "a-dot-at": _fit("a.", "@x"),
        "dotted-email-no-tld": _fit("a.b", "@c"),
        "email-long-local": _fit("a", "@b.c"),
        "url-dots": "http://" + _fit("a.")[7:],
        "www": _fit("www."),
        "digits": _fit("0"),
        "digits-spaced": _fit("1 "),
        "digits-dashed": _fit("1-"),
        "digits-dotted": _fit("1."),
        "phone-prefix": _fit("+31 6 "),
        "phone-06": _fit("06 12 "),
        "iban-like": "NL" + _fit("1")[2:],
        "postcode-like": _fit("1234 AB "),
        "capitals": _fit("A"),
        "capitalised-words": _fit("Jan "),
        "tussenvoegsels": _fit("van der "),
        "hyphen-names": _fit("Jan-"),
        "spaces": _fit(" "),
        "newlines": _fit("\n"),
        "a-space": _fit("a "),
        "a-hyphen": _fit("a-"),
        "a-underscore-at": _fit("a_", "@"),
        "accented": _fit("é"),
        "emoji": _fit("🙂"),
        "mixed-punct": _fit("a'-. "),
        "repeated-word": _fit("ik "),
        "repeated-negation": _fit("niet "),
        "repeated-danger-prefix": _fit("hij slaat "),
        "unclosed-quote": '"' + _fit("a ")[1:],
        "slashes": _fit("a/"),
        "hash-tags": _fit("#a"),
    }
    assert all(len(text) == LENGTH for text in cases.values()), "every input is exactly 4,000 characters"
    return cases

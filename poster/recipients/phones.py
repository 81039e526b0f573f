"""Turn one written phone number into E.164 digits, or say what is wrong with it."""

from __future__ import annotations

import re

MIN_DIGITS, MAX_DIGITS = 7, 15
"""E.164 allows at most 15 digits; no real number with its country code has fewer than 7."""
_SEPARATORS = re.compile(r"[\s\-().\[\]]")
_CODES = (
    "1 7 20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 "
    "62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98 211 212 213 216 218 220 221 222 223 224 "
    "225 226 227 228 229 230 231 232 233 234 235 236 237 238 239 240 241 242 243 244 245 246 "
    "247 248 249 250 251 252 253 254 255 256 257 258 260 261 262 263 264 265 266 267 268 269 "
    "290 291 297 298 299 350 351 352 353 354 355 356 357 358 359 370 371 372 373 374 375 376 "
    "377 378 379 380 381 382 383 385 386 387 389 420 421 423 500 501 502 503 504 505 506 507 "
    "508 509 590 591 592 593 594 595 596 597 598 599 670 672 673 674 675 676 677 678 679 680 "
    "681 682 683 685 686 687 688 689 690 691 692 850 852 853 855 856 870 880 881 882 883 886 "
    "960 961 962 963 964 965 966 967 968 970 971 972 973 974 975 976 977 992 993 994 995 996 "
    "998"
)
"""ITU-T E.164 country codes in use (geographic ones, and 870/881-883 for global services)."""
_COUNTRY_CODES = frozenset(_CODES.split())
_TRUNK = re.compile(r"\s*(?:\+|00)?[\s.-]*(\d{1,3})[\s.-]*(\(\s*0\s*\))")
"""A trunk "(0)" right after the country code, as in "+44 (0)20 7946 0958" or, written
without the "+" as E.164 allows, "44 (0)20 7946 0958"."""


def _without_trunk(written: str) -> str:
    """Drop a parenthesised 0 written right after an international number's country code."""
    # "+44 (0)20" says "dial 0 only from within the country": the number is +44 20.
    found = _TRUNK.match(written)
    if found is None or found.group(1) not in _COUNTRY_CODES:
        return written
    return written[: found.start(2)] + written[found.end(2) :]


def normalise(written: str) -> str:
    """Return the number's digits with its country code, raising ``ValueError`` naming the fault.

    The fault quotes the start of ``written`` only, with any loaded secret masked: a list
    that is in fact a key file must not print the key.
    """
    text = _SEPARATORS.sub("", _without_trunk(written))
    if text.startswith("+"):
        text = text[1:]
    elif text.startswith("00"):
        # The international call prefix most countries dial before a country code.
        text = text[2:]
    elif text.startswith("0"):
        raise ValueError(
            f"{_quoted(written)} starts with 0, a national number: write its country code"
        )
    if not text.isascii() or not text.isdigit():
        odd = next((c for c in text if not ("0" <= c <= "9")), "")
        raise ValueError(
            f"{_quoted(written)} holds {odd!r}; a number has digits, '+', spaces, '-', '()'"
        )
    if not MIN_DIGITS <= len(text) <= MAX_DIGITS:
        raise ValueError(
            f"{_quoted(written)} has {len(text)} digits; with its country code a number has "
            f"{MIN_DIGITS} to {MAX_DIGITS}"
        )
    if not any(text[:size] in _COUNTRY_CODES for size in (1, 2, 3)):
        raise ValueError(
            f"{_quoted(written)} does not start with a country code (such as 375 or 44)"
        )
    return text


QUOTED = 20
"""How many characters of a bad line an error quotes."""


def _quoted(written: str) -> str:
    """Return ``written`` as an error quotes it: masked if it holds a secret, and shortened."""
    from poster.redaction import redact

    masked = redact(written)
    if len(masked) <= QUOTED:
        return repr(masked)
    return f"{masked[:QUOTED]!r}…"

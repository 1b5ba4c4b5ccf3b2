"""Release identifiers: ISRC (the recording) and UPC/EAN (the release), checked before any work.

An ISRC (ISO 3901) is 12 characters: country (2 letters, ISO 3166-1 or an ISRC agency code),
registrant (3 letters/digits), year of reference (2 digits) and designation (5 digits); it has
no check digit, so its format and country code are what can be checked. A UPC-A (12 digits)
or EAN-13 (13 digits) ends in a check digit (GS1 mod-10), which is verified. python-stdnum does
the checking; this module turns its verdicts into messages a musician can act on.
"""

from __future__ import annotations

import re

from tunesmith.errors import TunesmithError

ISRC_EXAMPLE = "CC-XXX-YY-NNNNN (e.g. US-S1Z-99-00001)"


class IdentifierError(TunesmithError):
    """An ISRC or UPC/EAN is malformed or its check digit is wrong."""


def normalize_isrc(text: str) -> str:
    """'us-s1z-99-00001' -> 'USS1Z9900001'. Raises IdentifierError with the reason."""
    from stdnum import isrc as stdnum_isrc
    from stdnum.exceptions import InvalidComponent, ValidationError

    compact = re.sub(r"[\s\-]", "", text).upper()
    if len(compact) != 12:
        raise IdentifierError(
            f"ISRC '{text}' has {len(compact)} characters; an ISRC has 12: {ISRC_EXAMPLE}")
    if not re.fullmatch(r"[A-Z]{2}[A-Z0-9]{3}\d{7}", compact):
        raise IdentifierError(
            f"ISRC '{text}' is not in the form {ISRC_EXAMPLE}: two letters, three letters or "
            "digits, then the year as two digits and five digits")
    try:
        stdnum_isrc.validate(compact)
    except InvalidComponent as exc:
        raise IdentifierError(
            f"ISRC '{text}' starts with '{compact[:2]}', which is not a country code an ISRC "
            "agency issues; check the first two letters") from exc
    except ValidationError as exc:  # pragma: no cover - the checks above catch what it does
        raise IdentifierError(f"ISRC '{text}' is not valid: {exc}") from exc
    return compact


def format_isrc(compact: str) -> str:
    """'USS1Z9900001' -> 'US-S1Z-99-00001' (the display form)."""
    return f"{compact[:2]}-{compact[2:5]}-{compact[5:7]}-{compact[7:]}"


def gs1_check_digit(body: str) -> int:
    """GS1 mod-10 check digit for the digits before it (UPC-A, EAN-13, GTIN-14)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def normalize_upc(text: str) -> str:
    """A UPC-A (12 digits) or EAN-13 (13 digits), spaces and dashes allowed; returns the digits.
    Raises IdentifierError naming the check digit it should have had."""
    from stdnum import ean as stdnum_ean
    from stdnum.exceptions import ValidationError

    digits = re.sub(r"[\s\-]", "", text)
    if not digits.isdigit():
        raise IdentifierError(f"UPC/EAN '{text}' must be digits only (12 for a UPC, 13 for an EAN)")
    if len(digits) not in (12, 13):
        raise IdentifierError(
            f"UPC/EAN '{text}' has {len(digits)} digits; a UPC has 12 and an EAN 13")
    expected = gs1_check_digit(digits[:-1])
    if int(digits[-1]) != expected:
        raise IdentifierError(
            f"UPC/EAN '{text}' has a wrong check digit: it ends in {digits[-1]} but the digits "
            f"before it give {expected}; check for a typing mistake")
    try:
        stdnum_ean.validate(digits)
    except ValidationError as exc:  # pragma: no cover - the same rule as above
        raise IdentifierError(f"UPC/EAN '{text}' is not valid: {exc}") from exc
    return digits


def icpn(upc: str) -> str:
    """The release's ICPN as DDEX writes it (EAN-13: a UPC-A with a leading zero)."""
    return upc if len(upc) == 13 else "0" + upc

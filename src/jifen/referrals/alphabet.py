"""Codes people read and type: an alphabet without look-alikes (no 0/O, 1/I).

32 symbols, so each character carries 5 bits: an 8-character invite code has 40 bits, a
16-character product code 80 bits.
"""

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
assert len(ALPHABET) == 32

_SEPARATORS = re.compile(r"[\s\-_]")


def random_code(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def encode(number: int, length: int) -> str:
    """`number` (below 32**length) as `length` symbols, most significant first."""
    out = []
    for _ in range(length):
        number, digit = divmod(number, 32)
        out.append(ALPHABET[digit])
    return "".join(reversed(out))


def normalize(text: str) -> str:
    """What a member typed, as stored: upper case, without spaces or dashes.

    Lower-case letters are accepted; characters outside the alphabet are kept, so the
    caller's length/alphabet check refuses them.
    """
    if not isinstance(text, str):
        return ""
    return _SEPARATORS.sub("", text).upper()[:64]


def is_valid(code: str, length: int) -> bool:
    return len(code) == length and all(char in ALPHABET for char in code)


def grouped(code: str, size: int = 4) -> str:
    """ "ABCDEFGH…" → "ABCD-EFGH-…" for printing."""
    return "-".join(code[i : i + size] for i in range(0, len(code), size))

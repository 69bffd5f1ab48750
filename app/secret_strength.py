"""Is a JWT secret strong enough to sign every account's tokens in production?

Anyone who guesses the HS256 secret can mint an access token for any user, so production
refuses to start with a secret a person typed rather than generated. Length alone does not
catch that: ``'a' * 32`` or ``changeme-changeme-changeme-1234`` are 32 bytes. The checks,
each cheap and explained in the refusal message:

- at least ``MIN_JWT_SECRET_BYTES`` bytes (the SHA-256 block size PyJWT asks for);
- no known placeholder (``changeme``, ``secret-key``, ``your-…``, ``example``…) inside it;
- variety: at least ``MIN_DISTINCT_CHARACTERS`` different characters, not one short pattern
  repeated, and at least ``MIN_ESTIMATED_BITS`` bits by the per-character Shannon estimate
  (``openssl rand -hex 32`` scores ~250, ``secrets.token_urlsafe(48)`` ~350, ``'a' * 32`` 0).

These are heuristics against human-made secrets, not a proof of randomness; generate the
secret (``python -c "import secrets; print(secrets.token_urlsafe(48))"``) and they all pass.
"""

from __future__ import annotations

import math
from collections import Counter

__all__ = [
    "KNOWN_PLACEHOLDERS",
    "MIN_DISTINCT_CHARACTERS",
    "MIN_ESTIMATED_BITS",
    "MIN_JWT_SECRET_BYTES",
    "weak_secret_reason",
]

MIN_JWT_SECRET_BYTES = 32  # PyJWT warns below the SHA-256 block size (RFC 7518 §3.2).
MIN_DISTINCT_CHARACTERS = 10
MIN_ESTIMATED_BITS = 100.0
# Compared with the secret lower-cased and with "-", "_", "." and spaces removed.
KNOWN_PLACEHOLDERS = (
    "changeme",
    "changethis",
    "replaceme",
    "yoursecret",
    "secretkey",
    "jwtsecret",
    "mysecret",
    "supersecret",
    "placeholder",
    "example",
    "insecure",
    "password",
    "dummy",
    "default",
    "notasecret",
)


def _estimated_bits(secret: str) -> float:
    """Length times the Shannon entropy of the secret's own character frequencies."""
    counts = Counter(secret)
    total = len(secret)
    per_char = -sum(n / total * math.log2(n / total) for n in counts.values())
    return per_char * total


def _repeated_pattern(secret: str) -> str | None:
    """The shortest unit whose repetition makes up the whole secret, if there is one.

    A string is a repetition exactly when it occurs inside itself doubled at an offset
    smaller than its length; that offset is the unit's length.
    """
    period = (secret + secret).find(secret, 1)
    return secret[:period] if period < len(secret) else None


def weak_secret_reason(secret: str) -> str | None:
    """Why ``secret`` is too weak to sign production tokens, or None when it passes."""
    size = len(secret.encode())
    if size < MIN_JWT_SECRET_BYTES:
        return f"it is {size} bytes; at least {MIN_JWT_SECRET_BYTES} are required"
    folded = "".join(c for c in secret.lower() if c not in "-_. ")
    for placeholder in KNOWN_PLACEHOLDERS:
        if placeholder in folded:
            return f'it contains the placeholder "{placeholder}"'
    pattern = _repeated_pattern(secret)
    if pattern is not None:
        return f"it is the pattern {pattern[:8]!r}{'…' if len(pattern) > 8 else ''} repeated"
    distinct = len(set(secret))
    if distinct < MIN_DISTINCT_CHARACTERS:
        return f"it uses only {distinct} different characters (at least {MIN_DISTINCT_CHARACTERS})"
    bits = _estimated_bits(secret)
    if bits < MIN_ESTIMATED_BITS:
        return f"its estimated strength is {bits:.0f} bits (at least {MIN_ESTIMATED_BITS:.0f})"
    return None

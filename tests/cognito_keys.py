"""moto's Cognito key set, shared by the unit and integration tiers' token tests.

moto signs every user pool's tokens with one RSA key shipped in its package; with its private
half a test can make a token that only one claim keeps from being valid (expired, ...)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import jwt
import moto.cognitoidp

RESOURCES = Path(moto.cognitoidp.__file__).parent / "resources"


def moto_jwks(name: str = "jwks-public.json.gz") -> dict[str, Any]:
    """The key set moto signs every pool's tokens with (public set, or the private key)."""
    return dict(json.loads(gzip.decompress((RESOURCES / name).read_bytes())))


def moto_private_key() -> Any:
    return jwt.PyJWK(moto_jwks("jwks-private.json.gz")).key


def sign(claims: dict[str, object], key: Any = None, kid: str = "dummy") -> str:
    """RS256 with moto's pool key (or `key`), under moto's key id (or `kid`)."""
    return jwt.encode(claims, key or moto_private_key(), "RS256", headers={"kid": kid})

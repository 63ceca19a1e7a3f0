"""The local S3 gateway's CORS (scripts/localcloud/s3proxy.py) picks rules as S3 does."""

from __future__ import annotations

from localcloud.s3proxy import cors_headers, cors_rule_for
from localcloud.terraform import CorsRule

SITE = "http://127.0.0.1:8000"
UPLOADS = CorsRule(("POST",), (SITE,), ("*",), ("ETag",), 600)
DOWNLOADS = CorsRule(("GET", "HEAD"), ("*",), ("x-amz-*", "Range"))
RULES = (UPLOADS, DOWNLOADS)


def test_the_first_rule_matching_origin_method_and_headers_is_the_one_applied() -> None:
    assert cors_rule_for(RULES, SITE, "POST", ["content-type"]) is UPLOADS
    anyone = CorsRule(("POST",), ("*",))
    assert cors_rule_for((UPLOADS, anyone), SITE, "POST") is UPLOADS
    assert cors_rule_for((anyone, UPLOADS), SITE, "POST") is anyone
    assert cors_rule_for(RULES, SITE, "GET") is DOWNLOADS  # not the site's POST rule
    assert cors_rule_for(RULES, "null", "HEAD", ["X-Amz-Date", "range"]) is DOWNLOADS
    assert cors_rule_for(RULES, "http://evil.example", "POST") is None
    assert cors_rule_for(RULES, SITE.upper(), "POST") is None  # origins are case-sensitive
    assert cors_rule_for(RULES, SITE, "PUT") is None
    assert cors_rule_for(RULES, "null", "GET", ["authorization"]) is None


def test_a_named_origin_is_echoed_with_credentials_and_a_wildcard_is_star() -> None:
    assert cors_headers(UPLOADS, SITE, ["content-type"]) == {
        "Access-Control-Allow-Origin": SITE,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": "content-type",
        "Access-Control-Expose-Headers": "ETag",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    }
    headers = cors_headers(DOWNLOADS, "null")
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in headers
    assert "Access-Control-Max-Age" not in headers

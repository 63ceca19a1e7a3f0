"""e2e tier: the browser client in a real Chromium (Debian's), against the local cloud."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from localcloud.testing import RunningLocalCloud, running_local_cloud

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying to reach Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Every page reports each Content-Security-Policy violation to the console (in every document it
# loads), and a test whose pages saw one fails at teardown: the whole tier runs under the policy
# the local cloud sends from terraform/frontend.tf's local.site_csp.
CSP_VIOLATION = "CSP violation:"
REPORT_CSP_VIOLATIONS = f"""
document.addEventListener("securitypolicyviolation", (e) => {{
  console.error(`{CSP_VIOLATION} ${{e.effectiveDirective}} blocked ${{e.blockedURI || "inline"}}`
    + ` (${{e.sourceFile || "?"}}:${{e.lineNumber}})`);
}});
"""

# The browser flows sign up many users from one address: the abuse limits are off here (their
# own tests are in tests/unit/test_limits.py and tests/integration/test_limits.py).
NO_LIMITS = {"rate_limits_enabled": "false"}


@pytest.fixture(scope="session")
def cloud() -> Iterator[RunningLocalCloud]:
    with running_local_cloud(variables=NO_LIMITS) as running:
        yield running


# Module scope, not session: Playwright's sync API runs an event loop in this thread while it
# is open, and the integration tier's asyncio.run() would fail if it outlived these tests.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # A missing browser is a failure, never a skip: `make test` installs it (scripts/setup-e2e.sh).
    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists(), (
        f"{CHROMIUM} is missing: run `bash scripts/setup-e2e.sh` (make test does)"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser: Browser, cloud: RunningLocalCloud) -> Iterator[object]:
    """A factory of pages, each in its own browser context (its own localStorage). A page keeps
    the CSP violations it reported in `page.csp_violations`; any left at the end fail the test."""
    contexts: list[BrowserContext] = []
    pages: list[Page] = []

    def make(width: int = 1280, height: int = 800) -> Page:
        context = browser.new_context(
            viewport={"width": width, "height": height}, base_url=cloud.base_url
        )
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=cloud.base_url)
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.js_errors = errors  # type: ignore[attr-defined]
        violations: list[str] = []
        page.on(
            "console",
            lambda m: violations.append(m.text) if m.text.startswith(CSP_VIOLATION) else None,
        )
        page.csp_violations = violations  # type: ignore[attr-defined]
        pages.append(page)
        return page

    yield make
    for context in contexts:
        context.close()
    seen = [v for page in pages for v in page.csp_violations]  # type: ignore[attr-defined]
    assert not seen, f"the client broke its Content-Security-Policy: {seen}"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS

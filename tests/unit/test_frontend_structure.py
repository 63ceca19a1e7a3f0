"""The browser client's shape and palette, checked from its source files: every module stays
small, and every author colour is readable on every background it is drawn on."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
MAX_MODULE_LINES = 400
AUTHOR_COLOURS = 8
# The backgrounds a message (and so an author name) can sit on: the page, panels, own messages.
MESSAGE_BACKGROUNDS = ("--bg", "--panel", "--mine")


def test_no_module_is_over_400_lines() -> None:
    modules = sorted((FRONTEND / "js").rglob("*.js"))
    assert len(modules) >= 10, modules  # the split exists
    sizes = {p.relative_to(FRONTEND).as_posix(): len(p.read_text().splitlines()) for p in modules}
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_views_do_not_touch_the_network() -> None:
    """Only actions.js (through api.js, socket.js and media.js) talks to the server."""
    for view in (FRONTEND / "js" / "views").glob("*.js"):
        source = view.read_text()
        for needle in ("fetch(", "XMLHttpRequest", "WebSocket", "api.js", "socket.js"):
            assert needle not in source, f"{view.name} uses {needle}"


def _scheme_variables() -> dict[str, dict[str, str]]:
    css = (FRONTEND / "css" / "app.css").read_text()
    light_block = re.search(r":root\s*\{(.*?)\}", css, re.S)
    dark_block = re.search(
        r"@media \(prefers-color-scheme: dark\)\s*\{\s*:root\s*\{(.*?)\}", css, re.S
    )
    assert light_block and dark_block

    def variables(block: str) -> dict[str, str]:
        return dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{6})", block))

    light = variables(light_block.group(1))
    return {"light": light, "dark": {**light, **variables(dark_block.group(1))}}


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_formula_matches_known_values() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_author_colour_passes_4_5_to_1_on_every_message_background(scheme: str) -> None:
    palette = _scheme_variables()[scheme]
    failures = {}
    for n in range(AUTHOR_COLOURS):
        colour = palette[f"--author-{n}"]
        for background in MESSAGE_BACKGROUNDS:
            ratio = contrast(colour, palette[background])
            if ratio < 4.5:
                failures[f"--author-{n} {colour} on {background}"] = round(ratio, 2)
    assert failures == {}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_author_colours_stay_distinguishable(scheme: str) -> None:
    """Readable is not enough: eight colours that all look alike say nothing about who spoke.
    Each pair differs in hue by at least 20 degrees or clearly in lightness."""
    palette = _scheme_variables()[scheme]
    colours = [palette[f"--author-{n}"] for n in range(AUTHOR_COLOURS)]

    def hue_and_lightness(colour: str) -> tuple[float, float]:
        r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
        high, low = max(r, g, b), min(r, g, b)
        lightness = (high + low) / 2
        if high == low:
            return 0.0, lightness
        d = high - low
        if high == r:
            hue = ((g - b) / d) % 6
        elif high == g:
            hue = (b - r) / d + 2
        else:
            hue = (r - g) / d + 4
        return hue * 60, lightness

    for a, b in itertools.combinations(colours, 2):
        (ha, la), (hb, lb) = hue_and_lightness(a), hue_and_lightness(b)
        hue_gap = min(abs(ha - hb), 360 - abs(ha - hb))
        assert hue_gap >= 20 or abs(la - lb) >= 0.15, f"{a} and {b} look alike"


def test_the_client_uses_the_palette_it_declares() -> None:
    render = (FRONTEND / "js" / "render.js").read_text()
    assert f"export const AUTHOR_COLOURS = {AUTHOR_COLOURS};" in render
    css = (FRONTEND / "css" / "app.css").read_text()
    for n in range(AUTHOR_COLOURS):
        assert f".author-{n} {{ color: var(--author-{n}); }}" in css

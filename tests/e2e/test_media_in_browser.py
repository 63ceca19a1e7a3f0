"""Media in the browser: files attached in the composer upload straight to the local cloud's
S3 (presigned POST), the other member sees the image inline and the PDF as a card, and the
download gives back the same bytes; files over the limit or of a type not allowed are refused
before anything is uploaded."""

from __future__ import annotations

import json
import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, Request, Route, expect

from localcloud.testing import RunningLocalCloud

from .flows import messages, send, two_users_in_a_room
from .test_accessibility import blocking_violations

pytestmark = pytest.mark.e2e

BLOB = re.compile(r"^blob:")
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def png(width: int, height: int) -> bytes:
    """A real PNG (RGB, one colour), which the browser decodes to naturalWidth == width."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + b"\x4f\x46\xe5" * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def upload_requests(page: Page) -> list[str]:
    """Every request the page makes to create an upload or post a file to S3."""
    seen: list[str] = []

    def watch(request: Request) -> None:
        if request.method == "POST" and ("/uploads" in request.url or "/s3/" in request.url):
            seen.append(request.url)

    page.on("request", watch)
    return seen


def test_attach_an_image_and_a_pdf_the_other_member_sees_and_downloads_them(
    new_page: Callable[..., Page], tmp_path: Path, artifacts: Path
) -> None:
    alice, bob, a_name, *_ = two_users_in_a_room(new_page)
    image = png(64, 48)
    (tmp_path / "chart.png").write_bytes(image)
    (tmp_path / "report.pdf").write_bytes(PDF)

    with alice.expect_file_chooser() as chooser:
        alice.get_by_role("button", name="Attach").click()
    chooser.value.set_files([str(tmp_path / "chart.png"), str(tmp_path / "report.pdf")])
    files = alice.get_by_role("list", name="Files to send").get_by_role("listitem")
    expect(files).to_have_count(2)
    expect(files.nth(0)).to_contain_text("Ready")
    expect(files.nth(1)).to_contain_text("Ready")
    expect(alice.get_by_role("button", name="Remove chart.png")).to_be_visible()
    # The chip's preview is the chosen file itself (a blob URL), decoded.
    thumb = files.nth(0).locator("img")
    expect(thumb).to_have_attribute("src", BLOB)
    assert blocking_violations(alice) == [], "files to send"
    alice.screenshot(path=str(artifacts / "media-composer.png"))
    alice.get_by_label("Message").fill("the numbers")
    alice.get_by_label("Message").press("Enter")
    expect(files).to_have_count(0)

    for page in (alice, bob):
        expect(messages(page)).to_have_count(1)
        item = messages(page).nth(0)
        expect(item).to_contain_text("the numbers")
        expect(item).to_contain_text(a_name)
        shown = item.get_by_role("img", name="chart.png")
        expect(shown).to_have_attribute("src", BLOB)
        shown.evaluate("img => img.decode()")
        assert shown.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [64, 48]
        # The box is fixed: the same size whatever the image's own size.
        box = shown.bounding_box()
        assert box and (box["width"], box["height"]) == (240, 180)
        expect(item).to_contain_text("report.pdf")
        expect(item).to_contain_text("application/pdf")

    bob.emulate_media(color_scheme="dark")
    assert blocking_violations(bob) == [], "attachments in a message"
    bob.screenshot(path=str(artifacts / "media-message.png"))
    card = messages(bob).nth(0)
    with bob.expect_download() as download_info:
        card.get_by_role("link", name="Download report.pdf").click()
    download = download_info.value
    assert download.suggested_filename == "report.pdf"
    assert Path(download.path()).read_bytes() == PDF
    with bob.expect_download() as image_download:
        card.get_by_role("link", name="Download chart.png").click()
    assert Path(image_download.value.path()).read_bytes() == image
    assert alice.js_errors == [] and bob.js_errors == []  # type: ignore[attr-defined]


def test_a_file_alone_can_be_sent_and_removed_before_sending(
    new_page: Callable[..., Page], tmp_path: Path
) -> None:
    alice, bob, *_ = two_users_in_a_room(new_page)
    (tmp_path / "notes.txt").write_text("plain notes\n")
    (tmp_path / "extra.pdf").write_bytes(PDF)
    # The POSTs to S3 are held back: the files show as uploading, and Send waits for them.
    held: list[Route] = []
    alice.route("**/s3/**", lambda route: held.append(route))
    alice.locator("#file-input").set_input_files(
        [str(tmp_path / "notes.txt"), str(tmp_path / "extra.pdf")]
    )
    files = alice.get_by_role("list", name="Files to send").get_by_role("listitem")
    expect(files).to_have_count(2)
    progress = alice.get_by_role("progressbar", name="Uploading notes.txt")
    expect(progress).to_have_attribute("aria-valuenow", "0")
    expect(alice.get_by_role("progressbar", name="Uploading extra.pdf")).to_be_visible()
    alice.get_by_role("button", name="Send").click()
    expect(alice.get_by_role("alert").filter(has_text="Wait")).to_have_text(
        "Wait until the files have finished uploading."
    )
    expect(messages(alice)).to_have_count(0)
    for _ in range(300):  # the route handlers run while Playwright waits
        if len(held) == 2:
            break
        alice.wait_for_timeout(50)
    assert len(held) == 2
    for route in held:
        route.continue_()
    alice.unroute("**/s3/**")
    # Both finish before one is removed: the chip's width changes as "Ready" replaces the bar.
    expect(files.filter(has_text="Ready")).to_have_count(2)
    alice.get_by_role("button", name="Remove extra.pdf").click()
    expect(files).to_have_count(1)
    expect(files.nth(0)).to_contain_text("Ready")
    alice.get_by_role("button", name="Send").click()  # no text: the file is the message
    expect(messages(bob)).to_have_count(1)
    expect(messages(bob).nth(0)).to_contain_text("notes.txt")
    expect(messages(bob).nth(0)).not_to_contain_text("extra.pdf")
    send(bob, "got it")
    expect(messages(alice)).to_have_count(2)


def test_too_large_and_disallowed_files_are_refused_before_any_upload(
    new_page: Callable[..., Page], tmp_path: Path
) -> None:
    alice, *_ = two_users_in_a_room(new_page)
    posts = upload_requests(alice)
    big = tmp_path / "huge.pdf"
    with big.open("wb") as f:
        f.truncate(10 * 1024 * 1024 + 1)  # one byte over the default limit
    page_file = tmp_path / "page.html"
    page_file.write_text("<p>hi</p>")
    error = alice.get_by_role("alert").filter(has_text="too large")

    alice.locator("#file-input").set_input_files(str(big))
    expect(error).to_contain_text(
        "huge.pdf is too large (10485761 bytes); files can be at most 10485760 bytes."
    )
    bigger = tmp_path / "bigger.zip"
    with bigger.open("wb") as f:
        f.truncate(12 * 1024 * 1024)
    alice.locator("#file-input").set_input_files(str(bigger))
    expect(error).to_contain_text(
        "bigger.zip is too large (12.0 MB); files can be at most 10.0 MB."
    )
    alice.locator("#file-input").set_input_files(str(page_file))
    expect(alice.get_by_role("alert").filter(has_text="can't be attached")).to_contain_text(
        "page.html: this type of file can't be attached (text/html)"
    )
    # Dropped files take the same checks.
    alice.evaluate(
        """() => {
          const data = new DataTransfer();
          data.items.add(new File(["<svg/>"], "logo.svg", { type: "image/svg+xml" }));
          document.querySelector(".conversation").dispatchEvent(
            new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
        }"""
    )
    expect(alice.get_by_role("alert").filter(has_text="logo.svg")).to_be_visible()
    expect(alice.get_by_role("list", name="Files to send")).to_be_hidden()
    assert posts == []


def test_a_fifth_file_is_refused_and_a_pasted_image_is_attached(
    new_page: Callable[..., Page], tmp_path: Path
) -> None:
    alice, bob, *_ = two_users_in_a_room(new_page)
    paths = []
    for i in range(5):
        path = tmp_path / f"part{i}.txt"
        path.write_text(f"part {i}\n")
        paths.append(str(path))
    alice.locator("#file-input").set_input_files(paths)
    files = alice.get_by_role("list", name="Files to send").get_by_role("listitem")
    expect(files).to_have_count(4)
    expect(alice.get_by_role("alert").filter(has_text="part4.txt")).to_contain_text(
        "at most 4 files"
    )
    alice.get_by_role("button", name="Remove part3.txt").click()
    alice.get_by_label("Message").evaluate(
        """(box, bytes) => {
          const data = new DataTransfer();
          data.items.add(new File([new Uint8Array(bytes)], "pasted.png", { type: "image/png" }));
          box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
        }""",
        list(png(8, 8)),
    )
    expect(files).to_have_count(4)
    expect(files.nth(3)).to_contain_text("pasted.png")
    for i in range(4):
        expect(files.nth(i)).to_contain_text("Ready")
    alice.get_by_label("Message").press("Enter")
    expect(messages(bob)).to_have_count(1)
    expect(messages(bob).nth(0).get_by_role("img", name="pasted.png")).to_be_visible()


def test_limits_from_config_apply_and_the_servers_refusal_shows_on_the_file(
    new_page: Callable[..., Page], cloud: RunningLocalCloud, tmp_path: Path
) -> None:
    """A config.js carrying `media` limits replaces the defaults. Here it allows more than the
    server (20 MB, and HTML): the client lets the files go, and the server's answer (413, 400)
    shows on each file, which cannot be sent."""
    media = {"maxBytes": 20 * 1024 * 1024, "contentTypes": ["application/zip", "text/html"]}
    alice, *_ = two_users_in_a_room(new_page)
    config = (
        f"window.CHAT_CONFIG = {{restUrl: {json.dumps(cloud.base_url + '/api')}, "
        f"wsUrl: {json.dumps(cloud.base_url.replace('http', 'ws', 1) + '/ws')}, "
        f"media: {json.dumps(media)}}};"
    )
    alice.route(
        "**/config.js",
        lambda route: route.fulfill(body=config, content_type="text/javascript"),
    )
    alice.reload()
    alice.get_by_role("list", name="Rooms").get_by_role(
        "button", name=re.compile("Launch plans")
    ).click()
    expect(alice.get_by_role("heading", name="Launch plans")).to_be_visible()
    big = tmp_path / "big.zip"
    with big.open("wb") as f:
        f.truncate(11 * 1024 * 1024)
    (tmp_path / "page.html").write_text("<p>hi</p>")
    alice.locator("#file-input").set_input_files([str(big), str(tmp_path / "page.html")])
    files = alice.get_by_role("list", name="Files to send").get_by_role("listitem")
    expect(files).to_have_count(2)
    expect(files.nth(0)).to_contain_text("Not uploaded: Files are at most 10485760 bytes.")
    expect(files.nth(1)).to_contain_text("Not uploaded: That file type is not allowed")
    alice.get_by_role("button", name="Send").click()
    expect(alice.get_by_role("alert").filter(has_text="Remove the files")).to_be_visible()
    expect(messages(alice)).to_have_count(0)

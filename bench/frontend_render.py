"""Benchmark 5: the browser client rendering a room of 5,000 messages, in Debian's Chromium.

Against the running local cloud: a user signs up and creates a room in the real client; then
5,000 messages are put into the client's store (the path history and live delivery take) and
the bench times, as median of RUNS:
  - opening the room: one full render of 5,000 items;
  - one live message arriving at the end of that list;
  - one message settling a pending send (the pending item removed, the stored one inserted);
each as script plus forced layout, and to the next painted frame.

    python bench/frontend_render.py
"""

from __future__ import annotations

import os
import secrets
import statistics

from bench.common import table
from localcloud.testing import running_local_cloud

MESSAGES = 5_000
RUNS = 5
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")  # as the e2e tier
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]

# Runs in the page; window.__chat.store is the client's store (frontend/js/main.js).
MEASURE = """async ({ count, roomId, otherId, me }) => {
  const store = window.__chat.store;
  const list = document.getElementById("messages");
  const frame = () => new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
  // Script plus a forced layout, then the wait to the next painted frame.
  async function timed(change) {
    const t = performance.now();
    change();
    void list.scrollHeight;
    const sync = performance.now() - t;
    await frame();
    return [sync, performance.now() - t];
  }
  const base = Date.parse("2026-01-01T00:00:00Z");
  const id = (n) => String(n).padStart(10, "0") + "0".repeat(16);
  const message = (n, extra = {}) => ({ roomId, messageId: id(n), username: n % 3 ? "someone" + (n % 7) : me,
    text: "message number " + n + " with a little text to wrap", createdAt: new Date(base + n * 1000).toISOString(), ...extra });
  store.selectRoom(otherId);
  await frame();
  for (let n = 0; n < count; n++) store.addMessage(message(n), { live: false });
  const [openSync, open] = await timed(() => store.selectRoom(roomId));
  const items = list.children.length;
  const [liveSync, live] = await timed(() => store.addMessage(message(count + 1), { live: true }));
  const [, idle] = await timed(() => {});
  store.addPending(roomId, { clientMessageId: "bench", text: "pending", requestId: "r0" });
  await frame();
  const [settleSync, settle] = await timed(() =>
    store.addMessage(message(count + 3, { username: me, clientMessageId: "bench" }), { live: true }));
  return { openSync, open, liveSync, live, settleSync, settle, idle, items };
}"""


def run(runs: int = RUNS, count: int = MESSAGES) -> str:
    from playwright.sync_api import sync_playwright

    results = []
    with running_local_cloud() as cloud, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        for attempt in range(runs):
            page = browser.new_context(
                viewport={"width": 1280, "height": 800}, base_url=cloud.base_url
            ).new_page()
            me = f"bench{secrets.token_hex(3)}"
            page.goto("/")
            page.get_by_label("Username").fill(me)
            page.get_by_label("Password").fill("correct horse battery")
            page.get_by_role("button", name="Sign up").click()
            page.get_by_text("connected", exact=True).wait_for()
            ids = []
            for name in ("Big room", "Other room"):
                page.get_by_label("Room name").fill(name)
                page.get_by_role("button", name="Create room").click()
                page.get_by_role("heading", name=name).wait_for()
                ids.append(page.evaluate("window.__chat.store.state.currentRoomId"))
            row = page.evaluate(
                MEASURE, {"count": count, "roomId": ids[0], "otherId": ids[1], "me": me}
            )
            assert row["items"] >= count, row
            print(f"  run {attempt + 1}: {row}", flush=True)
            results.append(row)
            page.context.close()
        browser.close()
    median = {k: statistics.median(r[k] for r in results) for k in results[0] if k != "items"}
    rows = [
        [what, f"{median[key + 'Sync']:.1f}", f"{median[key]:.0f}"]
        for what, key in (
            (f"open the room: full render of {count:,}", "open"),
            (f"one live message into {count:,}", "live"),
            ("one message settling a pending send", "settle"),
        )
    ]
    rows.append(["nothing (one idle frame, for scale)", "-", f"{median['idle']:.0f}"])
    body = table(["change", "script + layout ms", "to the next painted frame ms"], rows)
    return (
        f"Debian's Chromium, headless with software rendering, 1280x800; median of {runs} runs "
        "(bench/frontend_render.py). Headless frames come slowly here: the idle row is the "
        "frame wait alone.\n\n" + body
    )


if __name__ == "__main__":
    print(run())

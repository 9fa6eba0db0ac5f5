"""The SIMID tests' served overlay ad and the third-party player page that speaks SIMID to its creative."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.helpers import Account

# What a desktop Chrome says: ad tracking counts clicks from browsers, not from scripts.
BROWSER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"


@dataclass
class OverlayAd:
    """An overlay ad Vetrina served on `url` for a viewer: its VAST answer and its decision (the signed token)."""

    url: str
    advertiser: Account
    product: dict[str, Any]
    campaign_id: int
    film_id: int
    vast: bytes
    decision_id: str

    @property
    def creative_path(self) -> str:
        return f"/simid/overlay/{self.decision_id}"

    @property
    def click_url(self) -> str:
        return f"{self.url}/api/v1/ads/click/{self.decision_id}"


# A SIMID 1.2 player, as far as an overlay needs one: it frames the creative (hidden), answers its createSession,
# sends init (its navigation mode is the page's `navigation` query value) then startCreative, shows the frame when
# the creative resolves that, opens the landing page of a clickThru it is asked to handle, and on requestStop hides
# the frame and sends adStopped. Every message either way is kept in `window.harness` for the test to read.
HARNESS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Another site's player</title></head>
<body>
<div id="stage" style="position:relative;width:640px;height:360px;background:#000"></div>
<script>
"use strict";
const harness = (window.harness = { received: [], sent: [], clickThrus: [], started: false, stopped: false });
const navigation = new URLSearchParams(location.search).get("navigation") || "playerHandles";
let frame = null;
let sessionId = null;
let nextId = 0;
const awaiting = new Map();

function post(type, args) {
  const message = { sessionId, messageId: nextId++, timestamp: Date.now(), type, args: args || {} };
  harness.sent.push(message);
  frame.contentWindow.postMessage(JSON.stringify(message), new URL(frame.src).origin);
  return message.messageId;
}
function ask(type, args) {
  return new Promise((resolve, reject) => awaiting.set(post(type, args), { resolve, reject }));
}
function answer(message) {
  post("resolve", { messageId: message.messageId });
}
async function start() {
  const box = { x: 0, y: 0, width: 640, height: 360 };
  await ask("SIMID:Player:init", {
    environmentData: {
      videoDimensions: box, creativeDimensions: box, fullscreen: false, fullscreenAllowed: false,
      variableDurationAllowed: false, skippableState: "notSkippable", version: "1.2", siteUrl: location.href,
      navigationSupport: navigation, closeButtonSupport: "adHandles", nonlinearDuration: 8,
    },
    creativeData: { adParameters: "", clickThruUrl: "" },
  });
  await ask("SIMID:Player:startCreative", {});
  frame.style.visibility = "visible";
  harness.started = true;
}
window.addEventListener("message", (event) => {
  if (!frame || event.source !== frame.contentWindow) return;
  const message = JSON.parse(event.data);
  harness.received.push(message);
  if (message.type === "createSession") {
    sessionId = message.sessionId;
    answer(message);
    start();
    return;
  }
  if (message.sessionId !== sessionId) return;
  if (message.type === "resolve" || message.type === "reject") {
    const waiting = awaiting.get(message.args.messageId);
    awaiting.delete(message.args.messageId);
    if (waiting) (message.type === "resolve" ? waiting.resolve : waiting.reject)(message.args.value);
  } else if (message.type === "SIMID:Creative:clickThru") {
    harness.clickThrus.push(message.args);
    if (message.args.playerHandles) {
      answer(message);
      window.open(message.args.url, "_blank");
    }
  } else if (message.type === "SIMID:Creative:requestStop") {
    answer(message);
    frame.style.visibility = "hidden";
    ask("SIMID:Player:adStopped", { code: 4 }).then(() => { harness.stopped = true; });
  }
});
window.loadCreative = (url) => {
  frame = document.createElement("iframe");
  frame.id = "creative";
  frame.src = url;
  frame.style.cssText = "position:absolute;inset:0;width:100%;height:100%;border:0;visibility:hidden";
  document.getElementById("stage").append(frame);
};
</script>
</body></html>
"""

// The shoppable overlay ad as an IAB SIMID 1.2 creative (docs/ads.md, "SIMID"). It talks to the player that framed
// it only through SIMID messages: JSON strings over postMessage, each {sessionId, messageId, timestamp, type, args}.
// It opens the session (createSession), answers the player's init and startCreative, shows the product card, and on
// the buy action sends a clickThru whose URL is the ad's click route (counted once there, then on to the product's own
// page, where buying happens outside any frame); it closes on adStopped, adSkipped or fatalError, or asks to stop.
(() => {
  "use strict";
  const card = document.querySelector(".simid-card");
  const buy = document.querySelector(".simid-buy");
  const close = document.querySelector(".simid-close");
  const clickUrl = document.body.dataset.clickUrl;
  const player = window.parent;
  if (!card || player === window) return; // not framed: there is no player to speak to

  // Unguessable, so no other frame can speak in this session (getRandomValues works outside secure contexts too).
  const sessionId = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
  let nextMessageId = 0;
  const awaiting = new Map(); // messageId of a request of ours -> its {resolve, reject}, settled by the player
  let environment = {};

  function send(type, args) {
    const message = { sessionId, messageId: nextMessageId++, timestamp: Date.now(), type, args: args || {} };
    // "*": the creative cannot know which site's player framed it; nothing it sends is secret.
    player.postMessage(JSON.stringify(message), "*");
    return message.messageId;
  }

  function request(type, args) {
    return new Promise((resolve, reject) => awaiting.set(send(type, args), { resolve, reject }));
  }

  function resolve(message, value) {
    send("resolve", value === undefined ? { messageId: message.messageId } : { messageId: message.messageId, value });
  }

  function received(data) {
    try {
      const message = typeof data === "string" ? JSON.parse(data) : data;
      return message && typeof message === "object" && typeof message.type === "string" ? message : null;
    } catch (_) {
      return null; // another script's message, not SIMID
    }
  }

  function hide() {
    card.hidden = true;
  }

  const fromPlayer = {
    "SIMID:Player:init": (message) => {
      environment = (message.args && message.args.environmentData) || {};
      buy.hidden = environment.navigationSupport === "notSupported";
      // A player that draws no close button of its own says adHandles (or nothing): then the card has one.
      close.hidden = environment.closeButtonSupport === "playerHandles";
      resolve(message);
    },
    "SIMID:Player:startCreative": (message) => {
      card.hidden = false;
      resolve(message);
    },
    "SIMID:Player:adStopped": (message) => {
      hide();
      resolve(message);
    },
    "SIMID:Player:adSkipped": (message) => {
      hide();
      resolve(message);
    },
    "SIMID:Player:fatalError": (message) => {
      hide();
      resolve(message);
    },
    "SIMID:Player:appBackgrounded": (message) => resolve(message),
  };

  window.addEventListener("message", (event) => {
    if (event.source !== player) return;
    const message = received(event.data);
    if (!message || message.sessionId !== sessionId) return;
    if (message.type === "resolve" || message.type === "reject") {
      const waiting = message.args && awaiting.get(message.args.messageId);
      if (!waiting) return;
      awaiting.delete(message.args.messageId);
      (message.type === "resolve" ? waiting.resolve : waiting.reject)(message.args.value);
      return;
    }
    const answer = fromPlayer[message.type];
    if (answer) answer(message); // media events, resize, log and the like need no answer
  });

  buy.addEventListener("click", (event) => {
    // On the web the creative opens the landing page itself unless the player said it does (navigationSupport).
    const playerHandles = environment.navigationSupport === "playerHandles";
    if (!playerHandles) window.open(clickUrl, "_blank", "noopener");
    const args = { x: Math.round(event.clientX), y: Math.round(event.clientY), playerHandles };
    if (playerHandles) args.url = clickUrl;
    send("SIMID:Creative:clickThru", args);
  });

  close.addEventListener("click", () => {
    // A player that cannot stop the ad keeps the frame; the card goes away all the same.
    request("SIMID:Creative:requestStop").then(hide, hide);
  });

  request("createSession").catch(() => {}); // a player that never answers may still send init later
})();

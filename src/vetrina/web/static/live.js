// A live show's page: its event stream (Server-Sent Events) applied when the picture gets there. Each event carries
// the stream time it belongs to (the program date time of the frame on camera); a viewer a few seconds behind sees
// a pin when the frame that shows the product reaches their screen, not when the host clicked.
"use strict";

const LIVE_EVENT_TYPES = ["pin", "unpin", "flash_sale", "flash_sale_update", "chat", "chat_deleted", "reaction",
                          "viewers"];
const REACTION_SIGNS = { heart: "❤", fire: "🔥", clap: "👏", laugh: "😂", wow: "😮" };

// The page's language's decimal mark: the host types "12.50" in English, "12,50" in Italian.
const DECIMAL_MARK = new Intl.NumberFormat(VETRINA_LOCALE).formatToParts(1.5)
  .find((part) => part.type === "decimal").value;

function currencyDigits(currency) {
  return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
}

// "12.50" (or "12,50" in Italian) in a currency's minor units (1250 for EUR, 12 refused for JPY's "12.5"), exactly;
// null if not an amount.
function minorUnits(typed, currency) {
  const digits = currencyDigits(currency);
  const mark = DECIMAL_MARK.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const found = new RegExp("^\\s*(\\d+)(?:" + mark + "(\\d+))?\\s*$").exec(typed);
  if (!found || (found[2] || "").length > digits) return null;
  return Number(found[1] + (found[2] || "").padEnd(digits, "0"));
}

// How to type a price in `currency` in the page's language: "9.90", "9,90", "10" for yen.
function typedExample(currency) {
  const digits = currencyDigits(currency);
  return new Intl.NumberFormat(VETRINA_LOCALE, { minimumFractionDigits: digits, maximumFractionDigits: digits })
    .format(digits ? 9.9 : 10);
}

class LiveShow {
  constructor(root, player, shop) {
    this.root = root;
    this.player = player;
    this.shop = shop;
    this.showId = root.dataset.showId;
    this.pending = [];  // events waiting for the picture, in stream-time order
    this.seen = new Set();  // ids applied or waiting: a reconnection's backlog may repeat some (ids commit out of order)
    this.chatList = document.querySelector(".live-chat ol");
    this.viewers = document.querySelector(".live-viewers");
    this.bindChat();
    this.bindReactions();
    if (root.dataset.hosting === "true") this.bindHostControls();
    const source = new EventSource("/api/v1/live/" + this.showId + "/events");
    for (const type of LIVE_EVENT_TYPES) {
      source.addEventListener(type, (message) => this.receive(JSON.parse(message.data)));
    }
    // The show is over: no more events (the player plays out what it has; the page then offers the replay).
    source.addEventListener("ended", () => source.close());
    setInterval(() => this.drain(), 100);
  }

  receive(event) {
    if (event.id) {
      if (this.seen.has(event.id)) return;
      this.seen.add(event.id);
    }
    if (event.type === "viewers" || event.type === "flash_sale_update") return this.apply(event);
    event.at = Date.parse(event.stream_time);
    let index = this.pending.length;
    while (index > 0 && this.pending[index - 1].at > event.at) index -= 1;
    this.pending.splice(index, 0, event);
    this.drain();
  }

  // Apply every event whose stream time the picture on screen has reached.
  drain() {
    const playing = this.player && this.player.streamTime();
    if (!playing) return;
    const now = playing.getTime();
    while (this.pending.length && this.pending[0].at <= now) this.apply(this.pending.shift());
  }

  apply(event) {
    const payload = event.payload;
    if (payload.product) payload.product = inViewersLanguage(payload.product);
    if (event.type === "pin") this.shop.showPin(payload.pin_id, payload.product);
    else if (event.type === "unpin") this.shop.hidePin(payload.pin_id);
    else if (event.type === "flash_sale") this.shop.showFlashSale(payload.sale, payload.product);
    else if (event.type === "flash_sale_update") this.shop.updateFlashSale(payload);
    else if (event.type === "chat") this.addLine(payload);
    else if (event.type === "chat_deleted") this.removeLine(payload.message_id);
    else if (event.type === "reaction") this.float(payload.kind);
    else if (event.type === "viewers" && this.viewers) {
      const count = new Intl.NumberFormat(VETRINA_LOCALE).format(payload.count);
      this.viewers.textContent = t("{count} watching", { count });
    }
  }

  addLine(line) {
    if (!this.chatList || this.chatList.querySelector('[data-message="' + line.message_id + '"]')) return;
    const item = el("li", { "data-message": String(line.message_id), "data-viewer": line.viewer },
      line.host ? el("span", { class: "host-badge" }, t("Host")) : el("span", { class: "viewer" }, line.viewer),
      " ", line.text);
    if (this.root.dataset.hosting === "true" && !line.host) item.append(...this.moderation(line));
    this.chatList.append(item);
    while (this.chatList.children.length > 200) this.chatList.firstElementChild.remove();
    this.chatList.scrollTop = this.chatList.scrollHeight;
  }

  removeLine(messageId) {
    const item = this.chatList && this.chatList.querySelector('[data-message="' + messageId + '"]');
    if (item) item.remove();
  }

  // The host's buttons beside each viewer's line.
  moderation(line) {
    const act = (action, label, body) => el("button", { type: "button", class: "link", onclick: async () => {
      try { await api("POST", "/api/v1/live/" + this.showId + "/moderation", { action, ...body }); }
      catch (error) { window.alert(error.message); }
    } }, label);
    return [" ", act("delete", t("delete"), { message_id: line.message_id }),
            act("mute", t("mute"), { viewer: line.viewer }), act("ban", t("ban"), { viewer: line.viewer })];
  }

  bindChat() {
    const form = document.querySelector(".live-chat form");
    if (!form) return;
    const input = form.querySelector("input");
    const status = form.querySelector(".chat-status");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      try {
        const line = await api("POST", "/api/v1/live/" + this.showId + "/chat", { text });
        input.value = "";
        status.textContent = "";
        // Yours shows at once (a muted author's reaches nobody else: it shows here all the same).
        this.addLine({ message_id: line.message_id, viewer: line.viewer, text: line.text,
                       host: this.root.dataset.hosting === "true" });
      } catch (error) {
        status.textContent = error.message;
      }
    });
  }

  bindReactions() {
    for (const button of document.querySelectorAll(".live-react button")) {
      button.addEventListener("click", () => {
        api("POST", "/api/v1/live/" + this.showId + "/reactions", { kind: button.dataset.kind }).catch(() => {});
      });
    }
  }

  // The host pins at the stream time their preview shows: viewers see the card with the same frame.
  bindHostControls() {
    const status = document.querySelector(".host-status");
    const act = async (method, path, body) => {
      try {
        const answer = await api(method, path, body);
        status.textContent = "";
        return answer;
      } catch (error) {
        status.textContent = error.message;
        return null;
      }
    };
    for (const button of document.querySelectorAll(".live-host .pin")) {
      button.addEventListener("click", async () => {
        const at = this.player.streamTime();
        const pinned = await act("POST", "/api/v1/live/" + this.showId + "/pins",
                                 { product_id: Number(button.dataset.product), ...(at ? { stream_time: at.toISOString() } : {}) });
        if (pinned) this.pinned = pinned.pin_id;
      });
    }
    document.querySelector(".live-host .unpin").addEventListener("click", async () => {
      const at = this.player.streamTime();
      const when = at ? "?stream_time=" + encodeURIComponent(at.toISOString()) : "";
      if (this.pinned) await act("DELETE", "/api/v1/live/" + this.showId + "/pins/" + this.pinned + when);
      this.pinned = null;
    });
    this.bindFlashSaleForm(act);
    document.querySelector(".live-host .end-show").addEventListener("click", async () => {
      if (window.confirm(t("End the show for good?")) && await act("POST", "/api/v1/live/" + this.showId + "/end")) {
        window.location.reload();
      }
    });
  }

  // The host's flash sale: a price typed in the product's currency, sent in minor units; then a button ends it early.
  bindFlashSaleForm(act) {
    const form = document.querySelector(".flash-sale-form");
    if (!form) return;
    const end = form.querySelector(".end-sale");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const choice = form.product_id.selectedOptions[0];
      const currency = choice.dataset.currency;
      const amount = minorUnits(form.price.value, currency);
      if (amount === null) {
        document.querySelector(".host-status").textContent =
          t("Type the sale price like {example} ({currency}).", { example: typedExample(currency), currency });
        return;
      }
      const sale = await act("POST", "/api/v1/live/" + this.showId + "/flash-sales", {
        product_id: Number(choice.value), price: { amount, currency }, quantity: Number(form.quantity.value),
        seconds: Number(form.seconds.value), per_buyer: Number(form.per_buyer.value) });
      if (!sale) return;
      end.hidden = false;
      end.onclick = async () => {
        if (await act("POST", "/api/v1/live/" + this.showId + "/flash-sales/" + sale.sale_id + "/end")) end.hidden = true;
      };
      setTimeout(() => { end.hidden = true; }, Number(form.seconds.value) * 1000);
    });
  }

  float(kind) {
    const sign = el("span", { class: "reaction-float", "aria-hidden": "true" }, REACTION_SIGNS[kind] || "❤");
    sign.style.left = 70 + Math.random() * 25 + "%";
    this.root.append(sign);
    setTimeout(() => sign.remove(), 2500);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("player");
  if (!root || root.dataset.live !== "true" || root.dataset.status !== "ready") return;
  // player.js and shop.js build theirs on the same event; wait a tick for both.
  setTimeout(() => { window.vetrinaLive = new LiveShow(root, window.vetrinaPlayer, window.vetrinaShop); }, 10);
});

// A pin's card is made once, in the host's language: each viewer reads its title in their own when translated.
function inViewersLanguage(product) {
  return { ...product, title: (product.titles && product.titles[VETRINA_LANGUAGE]) || product.title };
}

// View and Buy: product cards over the picture at their tagged moments, seek-bar markers, the shelf
// under the video, and a drawer beside it to buy without the video ever stopping.
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

// A card's price in the reader's language (texts.js's moneyText); a live show's events were written in the host's.
function priceText(product) {
  return product.price && typeof product.price === "object" ? moneyText(product.price) : product.price_display;
}

// A held item's line: "2 × Scarf — €59.00".
function heldLine(item) {
  const price = item.money && typeof item.money === "object" ? moneyText(item.money) : item.price;
  return t("{quantity} × {title} — {price}", { quantity: item.quantity, title: item.title, price });
}

function newKey() {
  return (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()).replace(/-/g, "");
}

// Set when this player sells inside the frame of a site the operator or the merchant allowed (the server let only
// that site frame this page): the drawer's calls then name that site and use the sign-in made in the frame.
const SELLING_FRAME_ORIGIN = (() => {
  const watch = document.querySelector(".watch");
  return window.top !== window.self && watch ? watch.dataset.sellInFrame || "" : "";
})();

// The page that frames this player as the embed URL named it (`origin=`, checked by the server), e.g. a shop's own
// site showing Vetrina's widget: the shopping events of docs/widget.md are posted to that origin only.
const HOST_ORIGIN = (() => {
  const watch = document.querySelector(".watch");
  return window.parent !== window.self && watch ? watch.dataset.hostOrigin || "" : "";
})();

// The postMessage API of docs/widget.md: shopping events out to the host page, and its requests in, each checked for
// its sender, its origin and its shape.
class HostBridge {
  constructor(videoId) {
    this.videoId = videoId;
    // A shop that keeps its own cart takes the purchases, but only a site the merchant (or operator) lets sell here.
    this.ownCart = false;
    if (!HOST_ORIGIN) return;
    window.addEventListener("message", (event) => this.receive(event));
    // Escape in the player reaches this frame only: the host page is asked to close what it shows the player in.
    document.addEventListener("keydown", (event) => { if (event.key === "Escape") this.post("close", {}); });
    this.post("ready", {});
  }

  post(type, fields) {
    if (!HOST_ORIGIN) return;
    window.parent.postMessage({ source: "vetrina", version: 1, type, video_id: this.videoId, ...fields }, HOST_ORIGIN);
  }

  // `product_viewed`, `add_to_cart` or `checkout` of a card's product (`price`) or a held item (`money`); the price in
  // minor units of its currency, as everywhere in Vetrina's API.
  shopping(type, product) {
    const money = product.money || product.price;
    if (!HOST_ORIGIN || !money || typeof money !== "object") return;
    this.post(type, { product: { id: product.id, title: product.title, price: money.amount, currency: money.currency,
                                 url: window.location.origin + "/p/" + product.id } });
  }

  receive(event) {
    if (event.source !== window.parent || event.origin !== HOST_ORIGIN) return;
    const message = event.data;
    if (!message || typeof message !== "object" || message.source !== "vetrina-host" || message.version !== 1) return;
    if (message.type !== "use_own_cart") return;
    this.ownCart = SELLING_FRAME_ORIGIN === event.origin;
    if (!this.ownCart) {
      console.warn("Vetrina: " + event.origin + " may not take purchases into its own cart (its merchant has not " +
                   "allowed it to sell in frames); buying stays with Vetrina.");
    }
    this.post("cart", { cart: this.ownCart ? "host" : "vetrina" });
  }
}

function apiHeaders(extra) {
  const headers = { "X-CSRF-Token": csrfToken(), ...(extra || {}) };
  if (SELLING_FRAME_ORIGIN) headers["X-Vetrina-Embed-Origin"] = SELLING_FRAME_ORIGIN;
  return headers;
}

const PROVIDER_LABELS = {
  alipay: t("Pay with Alipay (scan)"), stripe: t("Pay by card (Stripe)"), sandbox: t("Pay (sandbox)"),
};

async function api(method, path, body) {
  const response = await fetch(path, {
    method, credentials: "same-origin",
    headers: apiHeaders({ "Content-Type": "application/json", "Idempotency-Key": newKey() }),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.detail || t("Something went wrong ({status}).", { status: response.status }));
  return data;
}

// An image our API draws, as a URL an <img> can show: fetched with the drawer's headers inside a selling frame.
async function apiImage(path) {
  if (!SELLING_FRAME_ORIGIN) return path;
  const response = await fetch(path, { credentials: "same-origin", headers: apiHeaders() });
  if (!response.ok) throw new Error(t("The QR code could not be loaded ({status}).", { status: response.status }));
  return URL.createObjectURL(await response.blob());
}

// sessionStorage, or memory where a browser denies storage to a third-party frame (the embed).
const store = (() => {
  try {
    window.sessionStorage.getItem("probe");
    return window.sessionStorage;
  } catch (error) {
    const memory = new Map();
    return { getItem: (k) => (memory.has(k) ? memory.get(k) : null), setItem: (k, v) => memory.set(k, String(v)) };
  }
})();

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

// The box of a tag at time t: its keyframes interpolated, or its fixed box.
function boxAt(tag, t) {
  const frames = tag.keyframes || [];
  if (!frames.length) return tag.box;
  if (t <= frames[0].t) return frames[0];
  for (let i = 1; i < frames.length; i++) {
    if (t <= frames[i].t) {
      const a = frames[i - 1], b = frames[i], k = (t - a.t) / (b.t - a.t || 1);
      return { x: a.x + (b.x - a.x) * k, y: a.y + (b.y - a.y) * k, w: a.w + (b.w - a.w) * k, h: a.h + (b.h - a.h) * k };
    }
  }
  return frames[frames.length - 1];
}

// Reports what the viewer does, batched; a lost batch costs a little accuracy, never playback.
class EventReporter {
  constructor(videoId, filmTime) {
    this.videoId = videoId;
    this.filmTime = filmTime;
    this.queue = [];
    this.viewer = store.getItem("vetrina-viewer") || newKey();
    store.setItem("vetrina-viewer", this.viewer);
    setInterval(() => this.flush(), 4000);
    window.addEventListener("pagehide", () => this.flush(true));
  }

  report(type, extra) {
    if (this.videoId === null) return;  // a live show's viewing is counted by its event stream instead
    this.queue.push({ id: newKey(), type, video_id: this.videoId, second: Math.round(this.filmTime() * 1000) / 1000,
                      at: new Date().toISOString(), ...(extra || {}) });
    if (this.queue.length >= 50) this.flush();
  }

  flush(leaving) {
    if (!this.queue.length) return;
    const body = JSON.stringify({ viewer: this.viewer, events: this.queue.splice(0, 200) });
    if (leaving && navigator.sendBeacon) {
      navigator.sendBeacon("/api/v1/events", new Blob([body], { type: "application/json" }));
      return;
    }
    fetch("/api/v1/events", { method: "POST", body, keepalive: true, headers: { "Content-Type": "application/json" } })
      .catch(() => {});
  }
}

// Marks a pay button busy for one purchase at a time; false if it already is. aria-disabled, not disabled: a
// disabled button would drop the keyboard focus of whoever pressed it.
function busy(button) {
  if (button.getAttribute("aria-disabled") === "true") return false;
  button.setAttribute("aria-disabled", "true");
  return true;
}

class ShopLayer {
  constructor(root, player) {
    this.root = root;
    this.player = player;
    this.video = root.querySelector("video");
    this.cards = root.querySelector(".cards");
    this.drawer = document.querySelector(".drawer");
    this.shelf = document.querySelector(".shelf");
    this.signedIn = document.querySelector(".watch").dataset.signedIn === "true";
    this.providers = JSON.parse(document.querySelector(".watch").dataset.providers || "[]");
    // In another site's frame, buying goes on in a top-level window unless that site may sell in frames.
    this.framed = window.top !== window.self && !SELLING_FRAME_ORIGIN;
    // A live show has no timeline: its cards come and go with its pins (live.js), and its orders name no second.
    this.live = root.dataset.live === "true";
    this.videoId = this.live ? null : Number(root.dataset.videoId);
    this.heldKey = this.live ? "vetrina-held-live-" + root.dataset.showId : "vetrina-held-" + this.videoId;
    this.tags = [];
    this.shown = new Map();
    this.events = new EventReporter(this.videoId, () => this.filmTime());
    this.host = new HostBridge(this.videoId);
    this.video.addEventListener("play", () => this.events.report("play"));
    // A heartbeat every 5 s of playback (how far viewers stay), each quartile once, and the end.
    let beat = -1;
    const quartiles = new Set();
    this.video.addEventListener("timeupdate", () => {
      if (this.player && this.player.inAd()) return;  // the <video> is playing an ad break, not the film
      const t = this.video.currentTime, d = this.video.duration;
      if (!this.video.paused && Math.floor(t / 5) !== beat) {
        beat = Math.floor(t / 5);
        this.events.report("progress");
      }
      for (const q of [25, 50, 75]) {
        if (d && (t / d) * 100 >= q && !quartiles.has(q)) { quartiles.add(q); this.events.report("quartile"); }
      }
    });
    this.video.addEventListener("ended", () => this.events.report("ended"));
    this.drawer.querySelector(".drawer-close").addEventListener("click", () => this.closeDrawer());
    // The drawer is a dialog: Tab stays inside it while it is open, Escape closes it (and not the host's modal).
    this.drawer.addEventListener("keydown", (event) => this.drawerKeys(event));
    // The cards follow the picture when the player changes size (a phone's drawer shrinks it).
    if (!this.live && window.ResizeObserver) new ResizeObserver(() => this.render(this.filmTime())).observe(this.root);
    root.addEventListener("vetrina:time", (event) => this.render(event.detail.currentTime));
    this.video.addEventListener("ended", () => this.offerHeld());
    // Wired here, not by an onclick attribute: the page's Content-Security-Policy runs no inline script.
    const checkout = document.querySelector(".held-checkout");
    if (checkout) checkout.addEventListener("click", () => this.offerHeld());
    // Leaving with items held: the browser asks first, and a tab put aside shows the checkout on return.
    window.addEventListener("beforeunload", (event) => { if (this.held.length) event.preventDefault(); });
    document.addEventListener("visibilitychange", () => { if (document.hidden) this.offerHeld(); });
    this.drawHeld();
    if (!this.live) this.load();
  }

  // A live show's pinned product: its card over the picture until it is unpinned.
  showPin(pinId, product) {
    if (this.shown.has("pin-" + pinId)) return;
    for (const id of this.shown.keys()) this.hidePin(id.replace("pin-", ""));
    const node = this.card({ id: "pin-" + pinId, product });
    node.style.top = "0.75rem";
    this.cards.append(node);
    this.shown.set("pin-" + pinId, node);
  }

  // A flash sale in a live show: its card counts down and says what is left; buying it is an order in the sale.
  showFlashSale(sale, product) {
    this.hideFlashSale();
    const offer = { ...product, price: sale.price, price_display: sale.price_display, flash_sale_id: sale.sale_id,
                    variants: [],
                    stock: Math.min(sale.remaining, sale.per_buyer) };
    const left = el("span", { class: "flash-left" });
    const node = el("div", { class: "product-card flash-sale", "data-sale": String(sale.sale_id) },
      product.image ? el("img", { src: product.image, alt: "" }) : null,
      el("div", { class: "card-text" },
        el("strong", {}, t("Flash sale · {title}", { title: product.title })),
        el("span", {}, t("{price} (was {regular})", { price: priceText(offer), regular: priceText(product) })), left,
        el("div", { class: "card-actions" },
          el("button", { type: "button", class: "card-buy", onclick: () => this.openDrawer(offer) }, t("Buy now")))));
    node.style.top = "7.25rem";
    this.cards.append(node);
    this.flash = { node, left, sale, offer };
    const tick = () => {
      if (!this.flash || this.flash.node !== node) return;
      const seconds = Math.max(0, Math.round((Date.parse(this.flash.sale.ends_at) - Date.now()) / 1000));
      const ended = seconds === 0 || this.flash.sale.remaining === 0;
      left.textContent = ended ? (this.flash.sale.remaining === 0 ? t("Sold out") : t("Ended"))
                               : t("{remaining} left · {seconds} s", { remaining: this.flash.sale.remaining, seconds });
      node.classList.toggle("ended", ended);
      if (ended) setTimeout(() => { if (this.flash && this.flash.node === node) this.hideFlashSale(); }, 5000);
      else setTimeout(tick, 500);
    };
    tick();
  }

  updateFlashSale(state) {
    if (!this.flash || this.flash.sale.sale_id !== state.sale_id) return;
    this.flash.sale = state;
    this.flash.offer.stock = Math.min(state.remaining, state.per_buyer);
  }

  hideFlashSale() {
    if (this.flash) this.flash.node.remove();
    this.flash = null;
  }

  hidePin(pinId) {
    const node = this.shown.get("pin-" + pinId);
    if (node) { node.remove(); this.shown.delete("pin-" + pinId); }
  }

  // The film's second, even while an ad break plays in the <video> (player.js knows which it is).
  filmTime() {
    return this.player && this.player.filmTime ? this.player.filmTime() : this.video.currentTime;
  }

  // Where the viewer is: the second of the video, or the stream time on screen of a live show (ISO 8601).
  moment() {
    if (!this.live) return this.filmTime();
    const date = this.player && this.player.streamTime();
    return date ? date.toISOString() : null;
  }

  // Where an order came from (the order's fields): the video and its second (the selling-seconds view), or the
  // live show and the stream time on screen (the show's selling moments).
  orderSource(moment) {
    if (!this.live) return { source: { video_id: this.videoId, second: Math.round(moment * 1000) / 1000 } };
    return moment ? { live: { show_id: Number(this.root.dataset.showId), stream_time: moment } } : {};
  }

  async load() {
    // The cards' language in the address, so shared caches keep one copy per language (no Vary on cookies).
    const address = "/api/v1/videos/" + this.videoId + "/timeline?lang=" + encodeURIComponent(VETRINA_LANGUAGE);
    const response = await fetch(address, { credentials: "same-origin" });
    if (!response.ok) return;
    this.tags = (await response.json()).tags;
    this.drawMarkers();
    this.drawShelf();
    this.render(this.filmTime());
  }

  drawMarkers() {
    const seek = this.root.querySelector(".seek");
    const duration = Number(seek.getAttribute("aria-valuemax")) || this.video.duration;
    for (const tag of this.tags) {
      seek.append(el("span", { class: "marker", style: "left:" + (tag.start_s / duration) * 100 + "%",
                               title: tag.product.title }));
    }
  }

  drawShelf() {
    const list = this.shelf.querySelector("ul");
    const seen = new Set();
    for (const tag of this.tags) {
      if (seen.has(tag.product.id)) continue;
      seen.add(tag.product.id);
      list.append(el("li", { class: "shelf-item" },
        el("button", { type: "button", class: "shelf-jump", onclick: () => { this.video.currentTime = tag.start_s; } },
          tag.product.image ? el("img", { src: tag.product.image, alt: "" }) : null,
          el("span", { class: "title" }, tag.product.title),
          el("span", { class: "price" }, priceText(tag.product)))));
    }
    this.shelf.hidden = seen.size === 0;
  }

  // The cards of the film's `second` (named so, not `t`: texts.js's t() draws their words).
  render(second) {
    const active = new Set(this.tags.filter((tag) => second >= tag.start_s && second < tag.end_s).map((tag) => tag.id));
    for (const [id, node] of this.shown) {
      if (!active.has(id)) { this.dropCard(node); this.shown.delete(id); }
    }
    let corner = 0;
    for (const tag of this.tags) {
      if (!active.has(tag.id)) continue;
      let node = this.shown.get(tag.id);
      if (!node) {
        node = this.card(tag);
        this.cards.append(node);
        this.shown.set(tag.id, node);
        this.events.report("card_shown", { product_id: tag.product.id, tag_id: tag.id });
        this.host.shopping("product_viewed", tag.product);
      }
      const box = boxAt(tag, second);
      if (box) {
        node.classList.add("hotspot");
        this.placeBeside(node, box);
      } else {
        node.classList.remove("hotspot");
        node.style.left = "";
        node.style.top = (0.75 + corner * 6.5) + "rem";
        corner += 1;
      }
    }
  }

  // A card going away takes no keyboard focus with it: focus goes back to the player's play button.
  dropCard(node) {
    const focused = node.contains(document.activeElement);
    node.remove();
    const play = this.root.querySelector(".controls .play");
    if (focused && play) play.focus();
  }

  // The picture's own rectangle in the cards layer's pixels (the <video> letterboxes it: object-fit contain).
  pictureRect() {
    const layer = this.cards.getBoundingClientRect(), frame = this.video.getBoundingClientRect();
    const width = this.video.videoWidth || frame.width, height = this.video.videoHeight || frame.height;
    const scale = Math.min(frame.width / width, frame.height / height) || 1;
    return { left: frame.left - layer.left + (frame.width - width * scale) / 2,
             top: frame.top - layer.top + (frame.height - height * scale) / 2,
             width: width * scale, height: height * scale };
  }

  // A hotspot's card beside its product's box, never over it: to its right, else its left, below or above, inside
  // the cards layer (which ends above the controls); where no side fits, the side that covers least of the box.
  placeBeside(node, box) {
    const picture = this.pictureRect(), gap = 8;
    const room = { width: this.cards.clientWidth, height: this.cards.clientHeight };
    const b = { left: picture.left + box.x * picture.width, top: picture.top + box.y * picture.height,
                width: box.w * picture.width, height: box.h * picture.height };
    const size = { width: node.offsetWidth, height: node.offsetHeight };
    const inX = (x) => Math.min(Math.max(0, x), Math.max(0, room.width - size.width));
    const inY = (y) => Math.min(Math.max(0, y), Math.max(0, room.height - size.height));
    const sides = [
      { x: b.left + b.width + gap, y: inY(b.top) }, { x: b.left - gap - size.width, y: inY(b.top) },
      { x: inX(b.left), y: b.top + b.height + gap }, { x: inX(b.left), y: b.top - gap - size.height },
    ];
    const fits = (p) => p.x >= 0 && p.y >= 0 && p.x + size.width <= room.width && p.y + size.height <= room.height;
    const covered = (p) => Math.max(0, Math.min(p.x + size.width, b.left + b.width) - Math.max(p.x, b.left)) *
                           Math.max(0, Math.min(p.y + size.height, b.top + b.height) - Math.max(p.y, b.top));
    const place = sides.find(fits) || sides.map((p) => ({ x: inX(p.x), y: inY(p.y) }))
      .reduce((best, p) => (covered(p) < covered(best) ? p : best));
    node.style.left = place.x + "px";
    node.style.top = place.y + "px";
  }

  card(tag) {
    const product = tag.product;
    const buyable = product.in_stock ? product : product.alternative;
    const titleId = "card-title-" + tag.id;
    return el("div", { class: "product-card", "data-tag": tag.id, role: "group", "aria-labelledby": titleId },
      product.image ? el("img", { src: product.image, alt: "" }) : null,
      el("div", { class: "card-text" },
        el("strong", { id: titleId }, product.title),
        el("span", {}, product.in_stock ? priceText(product) : t("Sold out")),
        el("div", { class: "card-actions" },
          buyable ? el("button", { type: "button", class: "card-buy", onclick: () => {
            this.events.report("card_clicked", { product_id: buyable.id, tag_id: tag.id });
            this.host.shopping("add_to_cart", buyable);
            if (!this.host.ownCart) this.openDrawer(buyable);
          } },
                       product.in_stock ? t("Buy") : t("See similar")) : null,
          buyable ? el("button", { type: "button", class: "card-hold", onclick: () => {
            this.events.report("hold", { product_id: buyable.id, tag_id: tag.id });
            this.host.shopping("add_to_cart", buyable);
            if (!this.host.ownCart) this.hold(buyable);
          } }, t("Hold")) : null)));
  }

  // Held items live in this tab (session storage), so a reload keeps them and another video starts afresh.
  get held() {
    return JSON.parse(store.getItem(this.heldKey) || "[]");
  }

  set held(items) {
    store.setItem(this.heldKey, JSON.stringify(items));
    this.drawHeld();
  }

  hold(product) {
    const items = this.held;
    const existing = items.find((i) => i.id === product.id);
    if (existing) existing.quantity += 1;
    else items.push({ id: product.id, title: product.title, price: product.price_display, money: product.price,
                      merchant_id: product.merchant_id,
                      variant_id: product.variants.length ? product.variants.find((v) => v.stock)?.id : null,
                      quantity: 1, moment: this.moment() });
    this.held = items;
  }

  drawHeld() {
    const box = document.querySelector(".held");
    const items = this.held;
    box.hidden = items.length === 0;
    const list = box.querySelector("ul");
    const remove = (item) => { this.held = this.held.filter((i) => i.id !== item.id); };
    list.replaceChildren(...items.map((item) => el("li", {}, heldLine(item),
      el("button", { type: "button", class: "link", onclick: () => remove(item) }, t("remove")))));
  }

  // Inside another site's frame nothing is bought: that site could lead a signed-in viewer into paying. The buyer
  // goes on in a top-level window of ours (the session cookie never travels into the frame anyway).
  buyOnVetrina(body, products) {
    const page = this.live ? "/live/" + this.root.dataset.showId : "/watch/" + this.videoId;
    const link = el("a", { class: "drawer-top-level", href: page, target: "_blank", rel: "noopener",
                           onclick: () => { for (const product of products) this.host.shopping("checkout", product); } },
                    t("Buy on Vetrina (opens a new window)"));
    body.append(el("p", {}, t("The video keeps playing here.")), link);
  }

  // At the end (or on leaving), offer to check out everything held: one order per merchant.
  offerHeld() {
    if (!this.held.length) return;
    const body = this.drawer.querySelector(".drawer-body");
    body.replaceChildren(el("h2", {}, t("Your held items")));
    body.append(el("ul", {}, ...this.held.map((i) => el("li", {}, heldLine(i)))));
    if (this.framed) {
      this.buyOnVetrina(body, this.held);
    } else if (!this.signedIn) {
      this.signInForm(body, () => this.offerHeld());
    } else {
      const status = el("p", { class: "drawer-status", role: "status" });
      const pay = el("button", { type: "button", class: "drawer-checkout" }, t("Check out all"));
      pay.addEventListener("click", () => this.checkoutHeld(status, pay));
      body.append(pay, status);
    }
    this.showDrawer();
  }

  async checkoutHeld(status, button) {
    if (!busy(button)) return;
    status.textContent = t("Paying…");
    for (const item of this.held) this.host.shopping("checkout", item);
    const byMerchant = new Map();
    for (const item of this.held) {
      const group = byMerchant.get(item.merchant_id) || [];
      group.push(item);
      byMerchant.set(item.merchant_id, group);
    }
    try {
      const paid = [];
      for (const items of byMerchant.values()) {
        const order = await api("POST", "/api/v1/orders", {
          items: items.map((i) => (i.variant_id ? { product_id: i.id, quantity: i.quantity, variant_id: i.variant_id }
                                                : { product_id: i.id, quantity: i.quantity })),
          ...this.orderSource(items[0].moment ?? items[0].second ?? 0) });
        paid.push(await api("POST", "/api/v1/orders/" + order.id + "/pay"));
        this.events.report("purchase", { product_id: items[0].id, order_id: order.id });
        // Paid: out of the held list at once, so a retry after a later failure cannot pay for it again.
        const done = new Set(items.map((i) => i.id));
        this.held = this.held.filter((i) => !done.has(i.id));
      }
      this.held = [];
      status.textContent = "";
      const summary = t("Paid {count} order(s) into escrow.", { count: paid.length });
      status.append(el("strong", { class: "drawer-done" }, summary), " ",
                    el("a", { href: "/orders", target: "_blank" }, t("Your orders")));
    } catch (error) {
      status.textContent = error.message;
      button.removeAttribute("aria-disabled");
    }
  }

  signInForm(body, then) {
    const email = el("input", { type: "email", name: "email", autocomplete: "username", required: "" });
    const password = el("input", { type: "password", name: "password", autocomplete: "current-password", required: "" });
    const status = el("p", { class: "drawer-status", role: "status" });
    const form = el("form", { class: "drawer-signin" }, el("p", {}, t("Sign in to buy; the video keeps playing.")),
      el("label", {}, t("Email"), " ", email), el("label", {}, t("Password"), " ", password),
      el("button", { type: "submit" }, t("Sign in")), status);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        if (SELLING_FRAME_ORIGIN) {
          const signedIn = await api("POST", "/api/v1/embed/session",
                                     { email: email.value, password: password.value, video_id: this.videoId });
          document.querySelector('meta[name="csrf-token"]').content = signedIn.csrf_token;
        } else {
          await api("POST", "/api/v1/session", { email: email.value, password: password.value });
        }
        this.signedIn = true;
        then();
      } catch (error) {
        status.textContent = error.message;
      }
    });
    body.append(form);
  }

  openDrawer(product) {
    const body = this.drawer.querySelector(".drawer-body");
    body.replaceChildren();
    body.append(el("h2", {}, product.title), el("p", { class: "price" }, priceText(product)));
    if (this.framed) {
      this.buyOnVetrina(body, [product]);
    } else if (!this.signedIn) {
      this.signInForm(body, () => this.openDrawer(product));
    } else {
      const variant = product.variants.length
        ? el("select", { name: "variant" }, ...product.variants.map((v) =>
            el("option", v.stock ? { value: v.id } : { value: v.id, disabled: "" },
               v.stock ? v.name : t("{name} (sold out)", { name: v.name }))))
        : null;
      const quantity = el("input", { type: "number", name: "quantity", min: "1", max: String(product.stock), value: "1" });
      const status = el("p", { class: "drawer-status", role: "status" });
      const pay = el("button", { type: "button", class: "drawer-pay" }, t("Pay from wallet"));
      pay.addEventListener("click", () => this.buy(product, variant, quantity, status, pay, null));
      // The configured providers pay exactly the order's total; Alipay by a QR code beside the playing video.
      const direct = this.providers.map((provider) => {
        const button = el("button", { type: "button", class: "drawer-provider", "data-provider": provider },
                          PROVIDER_LABELS[provider] || provider);
        button.addEventListener("click", () => this.buy(product, variant, quantity, status, button, provider));
        return button;
      });
      body.append(...[variant ? el("label", {}, t("Option"), " ", variant) : null].filter(Boolean),
                  el("label", {}, t("Quantity"), " ", quantity),
                  pay, ...direct, status,
                  el("p", { class: "hint" }, t("Paid into escrow: the merchant is paid when you confirm receipt.")));
    }
    this.showDrawer();
  }

  // The drawer opens as a dialog: focus moves to its heading (read out first) and later goes back to what opened it.
  showDrawer() {
    if (this.drawer.hidden) {
      const from = document.activeElement;
      this.opener = from && from !== document.body && !this.drawer.contains(from) ? from : null;
    }
    this.drawer.hidden = false;
    document.querySelector(".watch").classList.add("drawer-open");
    const heading = this.drawer.querySelector(".drawer-body h2");
    if (heading) {
      heading.id = "drawer-title";
      heading.tabIndex = -1;
      heading.focus();
    }
  }

  closeDrawer() {
    const inside = this.drawer.contains(document.activeElement) || document.activeElement === document.body;
    this.drawer.hidden = true;
    document.querySelector(".watch").classList.remove("drawer-open");
    const back = this.opener && this.opener.isConnected ? this.opener : this.root.querySelector(".controls .play");
    this.opener = null;
    if (inside && back) back.focus();
  }

  // Tab and Shift+Tab go round the drawer's own controls while it is open; Escape closes it.
  drawerKeys(event) {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      this.closeDrawer();
      return;
    }
    if (event.key !== "Tab") return;
    const stops = [...this.drawer.querySelectorAll("button, [href], input, select, textarea, [tabindex='0']")]
      .filter((node) => !node.disabled && node.getClientRects().length);
    if (!stops.length) return;
    const first = stops[0], last = stops[stops.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  }

  async buy(product, variant, quantity, status, button, provider) {
    if (!busy(button)) return;
    this.events.report("buy_started", { product_id: product.id });
    this.host.shopping("checkout", product);
    status.textContent = t("Paying…");
    try {
      const item = { product_id: product.id, quantity: Number(quantity.value) || 1 };
      if (variant) item.variant_id = Number(variant.value);
      const order = await api("POST", "/api/v1/orders", {
        items: [item], ...this.orderSource(this.moment()), flash_sale_id: product.flash_sale_id });
      if (provider) {
        await this.payThrough(provider, order, status);
      } else {
        await api("POST", "/api/v1/orders/" + order.id + "/pay");
      }
      this.events.report("purchase", { product_id: product.id, order_id: order.id });
      this.events.flush();
      status.textContent = "";
      const paid = t("Paid {amount} into escrow. Order #{order}.", { amount: moneyText(order.total), order: order.id });
      status.append(el("strong", { class: "drawer-done" }, paid), " ",
                    el("a", { href: "/orders", target: "_blank" }, t("Your orders")));
    } catch (error) {
      status.textContent = error.message;
      button.removeAttribute("aria-disabled");
    }
  }

  // Open the payment at the provider and wait for its verified notification; the video never stops meanwhile.
  async payThrough(provider, order, status) {
    const method = provider === "alipay" ? "qr" : "page";
    let payment = await api("POST", "/api/v1/orders/" + order.id + "/payments", { provider, method });
    status.textContent = "";
    if (payment.qr_code) {
      status.append(el("img", { class: "drawer-qr", src: await apiImage("/api/v1/payments/" + payment.id + "/qr.svg"),
                                alt: t("QR code: scan it with the {provider} app to pay", { provider }) }),
                    el("p", {}, t("Scan with your phone to pay {amount}.", { amount: moneyText(order.total) })),
                    el("a", { class: "drawer-qr-link", href: payment.qr_code, target: "_blank", rel: "noopener" },
                       t("Or open it here")));
    } else if (payment.pay_url) {
      window.open(payment.pay_url, "_blank", "noopener");
      status.append(el("a", { href: payment.pay_url, target: "_blank", rel: "noopener" },
                       t("Finish paying in the new window")));
    }
    const deadline = Date.now() + 30 * 60 * 1000;
    while (payment.state === "created" && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      payment = await api("GET", "/api/v1/payments/" + payment.id);
    }
    if (payment.state !== "succeeded") {
      throw new Error(t("The payment did not go through ({state}).", { state: payment.state }));
    }
    if (payment.note) throw new Error(payment.note);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("player");
  if (!root || root.dataset.status !== "ready") return;
  // player.js builds window.vetrinaPlayer on the same event; wait a tick for it.
  setTimeout(() => {
    window.vetrinaShop = new ShopLayer(root, window.vetrinaPlayer);
    // Opened from a shop's widget (docs/widget.md): the film starts at once, muted if the browser wants a gesture.
    if (HOST_ORIGIN && new URLSearchParams(window.location.search).get("autoplay") === "1") {
      const video = root.querySelector("video");
      video.play().catch(() => { video.muted = true; return video.play(); }).catch(() => {});
    }
  }, 0);
});

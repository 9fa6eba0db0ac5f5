// Vetrina's shoppable widget for a merchant's own site (docs/widget.md). One script tag shows the channel's videos as a
// carousel or stories where the tag is; a video opens, shoppable, in a modal of Vetrina's embedded player, whose
// shopping events reach the page as DOM events. Vanilla and self-contained: it renders in a Shadow DOM (the page's CSS
// and the widget's keep apart), and the page never moves (the widget's box has its final height from the start).
(() => {
  "use strict";
  const script = document.currentScript;
  if (!script || script.dataset.vetrinaWidget) return;
  script.dataset.vetrinaWidget = "on";

  const VETRINA = new URL(script.src, document.baseURI).origin;
  const channel = script.dataset.channel || "";
  const layout = script.dataset.layout === "stories" ? "stories" : "carousel";
  const ownCart = script.dataset.cart === "host";
  // The box's height: what the tag itself reserved (the merchant desk's snippet does, so that the box is there before
  // this script arrives), else the layout's own.
  const HEIGHTS = { carousel: "200px", stories: "128px" };
  const height = script.style.height || HEIGHTS[layout];
  const SHOPPING = new Set(["product_viewed", "add_to_cart", "checkout"]);
  const warn = (text) => console.warn("Vetrina widget: " + text);
  // Its labels speak the host page's language (its <html lang>, else the browser's): the widget runs on another
  // origin than Vetrina's and cannot load its catalogue. The player it opens speaks the viewer's own (docs/widget.md).
  const TEXTS = {
    en: ["Shoppable videos", "Shoppable video", "Close"],
    it: ["Video acquistabili", "Video acquistabile", "Chiudi"],
    zh: ["可购物视频", "可购物视频", "关闭"],
  };
  const language = /^(it|zh)(?![a-z])/i.exec(document.documentElement.lang || navigator.language || "");
  const [VIDEOS, VIDEO, CLOSE] = TEXTS[language ? language[1].toLowerCase() : "en"];

  const CSS = `
:host { all: initial; display: block; font: 14px/1.3 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f; }
* { box-sizing: border-box; }
.rail { display: flex; gap: 12px; height: 100%; margin: 0; padding: 0 2px; list-style: none; overflow-x: auto;
        overflow-y: hidden; scroll-snap-type: x proximity; scrollbar-width: thin; }
.rail > li { flex: none; height: 100%; scroll-snap-align: start; }
.open { all: unset; box-sizing: border-box; display: flex; flex-direction: column; align-items: center; gap: 6px;
        height: 100%; cursor: pointer; border-radius: 10px; }
.open:focus-visible { outline: 3px solid #2563eb; outline-offset: 2px; }
.thumb { display: block; height: calc(100% - 2.6em); aspect-ratio: 16 / 9; object-fit: cover; border-radius: 10px;
         background: #e5e5ea; }
.stories .thumb { aspect-ratio: 1; border-radius: 50%; border: 3px solid #e4405f; padding: 2px; background-clip: content-box; }
.title { width: 0; min-width: 100%; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; text-align: center; }
.carousel .title { text-align: left; font-weight: 600; }
dialog { width: min(1040px, 96vw); height: min(720px, 92vh); max-width: none; max-height: none; padding: 0; border: 0;
         border-radius: 12px; background: #000; overflow: hidden; }
dialog::backdrop { background: rgb(0 0 0 / 0.7); }
iframe { display: block; width: 100%; height: 100%; border: 0; background: #fff; }
.close { all: unset; position: absolute; top: 8px; right: 8px; z-index: 1; width: 36px; height: 36px; border-radius: 50%;
         background: rgb(0 0 0 / 0.65); color: #fff; font-size: 24px; line-height: 36px; text-align: center; cursor: pointer; }
.close:focus-visible { outline: 3px solid #fff; }
`;

  // The box first, at its final size, in place of the tag's own reserved box: in one task, so nothing moves.
  const host = document.createElement("div");
  for (const [name, value] of [["display", "block"], ["height", height], ["margin", "0"], ["padding", "0"],
                               ["border", "0"], ["overflow", "hidden"], ["box-sizing", "border-box"]]) {
    host.style.setProperty(name, value, "important");
  }
  host.className = "vetrina-widget";
  script.after(host);
  script.style.setProperty("display", "none", "important");
  const root = host.attachShadow({ mode: "open" });
  const style = document.createElement("style");
  style.textContent = CSS;
  const rail = document.createElement("ul");
  rail.className = "rail " + layout;
  rail.setAttribute("aria-label", VIDEOS);
  const dialog = document.createElement("dialog");
  dialog.setAttribute("aria-label", VIDEO);
  const close = document.createElement("button");
  close.type = "button";
  close.className = "close";
  close.setAttribute("aria-label", CLOSE);
  close.textContent = "×";
  dialog.append(close);
  root.append(style, rail, dialog);

  let frame = null;
  let opener = null;

  function emit(type, detail) {
    document.dispatchEvent(new CustomEvent("vetrina:" + type, { detail: { ...detail, type, channel } }));
  }

  // The host page's hook besides the DOM events (shared by every widget on the page).
  if (!window.Vetrina) {
    window.Vetrina = {
      version: 1,
      on(type, handler) {
        const listener = (event) => handler(event.detail);
        document.addEventListener("vetrina:" + type, listener);
        return () => document.removeEventListener("vetrina:" + type, listener);
      },
    };
  }

  function open(video, button) {
    opener = button;
    const url = new URL("/embed/" + video.id, VETRINA);
    if (window.location.origin !== "null") url.searchParams.set("origin", window.location.origin);
    url.searchParams.set("autoplay", "1");
    frame = document.createElement("iframe");
    frame.title = video.title;
    frame.allow = "autoplay; fullscreen; encrypted-media; picture-in-picture";
    frame.src = url.href;
    dialog.append(frame);
    dialog.showModal();
    close.focus();
  }

  function shut() {
    if (dialog.open) dialog.close();
  }

  dialog.addEventListener("close", () => {
    if (frame) frame.remove();  // stops the film
    frame = null;
    if (opener) opener.focus();
  });
  close.addEventListener("click", shut);
  dialog.addEventListener("click", (event) => { if (event.target === dialog) shut(); });  // the backdrop

  function product(given) {
    if (!given || typeof given !== "object") return null;
    const { id, title, price, currency, url } = given;
    if (!Number.isInteger(id) || typeof title !== "string" || !Number.isInteger(price) ||
        typeof currency !== "string" || !/^[A-Z]{3}$/.test(currency) || typeof url !== "string" ||
        !url.startsWith(VETRINA + "/")) return null;
    return { id, title, price, currency, url };
  }

  // Only the open player frame, from Vetrina's origin, in the shape of docs/widget.md, is heard.
  window.addEventListener("message", (event) => {
    if (!frame || event.origin !== VETRINA || event.source !== frame.contentWindow) return;
    const message = event.data;
    if (!message || typeof message !== "object" || message.source !== "vetrina" || message.version !== 1 ||
        !Number.isInteger(message.video_id)) return;
    const base = { source: "vetrina", version: 1, video_id: message.video_id };
    if (message.type === "ready") {
      if (ownCart) frame.contentWindow.postMessage({ source: "vetrina-host", version: 1, type: "use_own_cart" }, VETRINA);
    } else if (message.type === "cart" && (message.cart === "host" || message.cart === "vetrina")) {
      emit("cart", { ...base, cart: message.cart });
    } else if (message.type === "close") {
      shut();
    } else if (SHOPPING.has(message.type)) {
      const item = product(message.product);
      if (item) emit(message.type, { ...base, product: item });
    }
  });

  function item(video) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "open";
    const image = document.createElement("img");
    image.className = "thumb";
    image.alt = "";
    image.loading = "lazy";
    image.decoding = "async";
    if (video.poster_url) image.src = new URL(video.poster_url, VETRINA).href;
    const title = document.createElement("span");
    title.className = "title";
    title.textContent = video.title;
    button.append(image, title);
    button.addEventListener("click", () => open(video, button));
    const entry = document.createElement("li");
    entry.append(button);
    return entry;
  }

  // A missing or unknown channel shows nothing (the reserved box stays, empty, so the page does not move) and says
  // so once in the console.
  async function load() {
    if (!/^[A-Za-z0-9-]{1,64}$/.test(channel)) {
      warn(channel ? "there is no channel '" + channel + "'." : "the script tag has no data-channel.");
      return;
    }
    const address = new URL("/api/v1/channels/" + channel + "/videos?per_page=24", VETRINA);
    let response;
    try {
      response = await fetch(address, { credentials: "omit", mode: "cors" });
    } catch (error) {
      warn("the videos of '" + channel + "' could not be loaded (" + error.message + ").");
      return;
    }
    if (response.status === 404) {
      warn("there is no channel '" + channel + "'.");
      return;
    }
    if (!response.ok) {
      warn("the videos of '" + channel + "' could not be loaded (" + response.status + ").");
      return;
    }
    const page = await response.json();
    const videos = Array.isArray(page.items) ? page.items.filter((v) => Number.isInteger(v.id) && typeof v.title === "string") : [];
    rail.replaceChildren(...videos.map(item));
    host.dataset.videos = String(videos.length);
  }

  load();
})();

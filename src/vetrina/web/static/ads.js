// Ads in the player, from the standards. Under hls.js, pre-rolls and mid-rolls come in the playlist as HLS
// Interstitials: hls.js asks Vetrina for each break's asset list and plays the ad in the film's <video>; this
// layer draws the "Ad" label, the countdown, the skip button once the ad allows it and "Learn more", and fires
// the asset list's tracking. An ad with no HLS rendition comes back as VAST instead and plays as below.
// Otherwise (native HLS, or that fallback) the video's VMAP says where the breaks are and each break's VAST what
// fills it: linear ads play in a second <video> over the film, which waits and resumes where it was.
// Overlay ads are shoppable cards (Buy and Hold work as on View-and-Buy cards) and never pause the film.
// Every tracking URL is fired once.
"use strict";

(function () {
  const byName = (node, name) => (node ? [...node.getElementsByTagNameNS("*", name)] : []);
  const first = (node, name) => byName(node, name)[0] || null;
  const text = (node) => (node ? node.textContent.trim() : "");
  // Only http(s) URLs are fetched, played or opened: a tag's javascript:, data: or vbscript: URL is dropped.
  const webUrl = (url) => {
    if (!url || /[\u0000-\u001f\u007f]/.test(url)) return null;
    try {
      const parsed = new URL(url);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? url : null;
    } catch (error) {
      return null;
    }
  };
  const webUrls = (urls) => urls.map(webUrl).filter(Boolean);

  function seconds(clock) {
    const parts = (clock || "").trim().split(":").map(Number);
    return parts.length === 3 && parts.every((n) => !Number.isNaN(n)) ? parts[0] * 3600 + parts[1] * 60 + parts[2] : null;
  }

  // Fill the macros a player is asked to fill, then fire and forget.
  function fire(url, errorCode) {
    if (!webUrl(url)) return;
    const filled = url.replace("[CACHEBUSTING]", String(Math.floor(Math.random() * 1e8)))
      .replace("[ERRORCODE]", String(errorCode || 900));
    fetch(filled, { credentials: "include", keepalive: true, mode: "no-cors" }).catch(() => {});
  }

  function readVast(xml) {
    const doc = new DOMParser().parseFromString(xml, "application/xml");
    const ad = first(doc, "Ad");
    if (!ad || !first(ad, "InLine")) return null;
    const tracking = (node) => {
      const events = {};
      for (const t of byName(first(node, "TrackingEvents"), "Tracking")) {
        const url = webUrl(text(t));
        if (url) (events[t.getAttribute("event")] = events[t.getAttribute("event")] || []).push(url);
      }
      return events;
    };
    const result = {
      impressions: webUrls(byName(ad, "Impression").map(text)),
      errors: webUrls(byName(first(ad, "InLine"), "Error").map(text)),
      title: text(first(ad, "AdTitle")), linear: null, overlay: null,
    };
    const linear = first(ad, "Linear");
    if (linear) {
      const files = byName(linear, "MediaFile").map((m) => ({ url: webUrl(text(m)), type: m.getAttribute("type") }))
        .filter((f) => f.url);
      result.linear = {
        duration: seconds(text(first(linear, "Duration"))) || 0, files, tracking: tracking(linear),
        skipOffset: seconds(linear.getAttribute("skipoffset")),
        clickThrough: webUrl(text(first(linear, "ClickThrough"))),
        clickTracking: webUrls(byName(linear, "ClickTracking").map(text)),
      };
    }
    // The static card, not its SIMID twin (that one is for other sites' SIMID players).
    const nonLinear = byName(ad, "NonLinear").find((n) => !n.getAttribute("apiFramework")) || first(ad, "NonLinear");
    if (nonLinear) {
      const registry = byName(ad, "UniversalAdId").find((u) => u.getAttribute("idRegistry") === "vetrina.product");
      result.overlay = {
        productId: registry ? Number(text(registry)) : null, image: webUrl(text(first(nonLinear, "StaticResource"))),
        clickThrough: webUrl(text(first(nonLinear, "NonLinearClickThrough"))),
        clickTracking: webUrls(byName(nonLinear, "NonLinearClickTracking").map(text)),
        duration: seconds(nonLinear.getAttribute("minSuggestedDuration")) || 8,
        tracking: tracking(first(ad, "NonLinearAds")),
      };
    }
    return result;
  }

  // A linear ad at `at` of its `duration` s, however it plays: each quartile reported once (`once`), the countdown on
  // `label`, and `skip` counting down to the ad's skip offset (null: not skippable, no button).
  function showProgress(at, duration, skipOffset, label, skip, once) {
    const share = duration ? at / duration : 0;
    if (share >= 0.25) once("firstQuartile");
    if (share >= 0.5) once("midpoint");
    if (share >= 0.75) once("thirdQuartile");
    const left = Math.max(0, Math.ceil(duration - at));
    label.textContent = t("Ad · {left}", { left: Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0") });
    if (skipOffset !== null && skipOffset !== undefined) {
      const wait = Math.ceil(skipOffset - at);
      skip.hidden = false;
      skip.disabled = wait > 0;
      skip.textContent = wait > 0 ? t("Skip in {seconds}", { seconds: wait }) : t("Skip ad");
    }
  }

  class AdLayer {
    constructor(root, player) {
      this.root = root;
      this.player = player;
      this.film = root.querySelector("video");
      this.videoId = Number(root.dataset.videoId);
      this.breaks = [];
      this.done = new Set();
      this.playing = false;
      this.interstitials = this.bindInterstitials(player && player.hls);
      root.addEventListener("vetrina:time", (event) => this.tick(event.detail.currentTime));
      this.film.addEventListener("play", () => this.tick(player ? player.filmTime() : this.film.currentTime));
      this.load();
    }

    // hls.js plays the playlist's breaks; here each asset's tracking fires and its chrome shows. True when bound.
    bindInterstitials(hls) {
      const Hls = window.Hls;
      if (!hls || !Hls || !Hls.Events.INTERSTITIAL_ASSET_STARTED) return false;
      let showing = null, fallback = null;
      // An asset list with no asset but a VAST: that ad plays the VAST way, over the film, once hls.js is back on
      // the film (a list with no asset never leaves it) and the viewer has pressed play (a pre-roll's list comes
      // at load).
      const playFallback = () => {
        if (!fallback) return;
        if (this.player.inAd()) { setTimeout(playFallback, 100); return; }
        if (this.film.paused) { this.film.addEventListener("play", playFallback, { once: true }); return; }
        const ad = fallback;
        fallback = null;
        this.playLinear(ad);
      };
      hls.on(Hls.Events.ASSET_LIST_LOADED, (_event, data) => {
        const answer = data.assetListResponse || {};
        const vast = answer["X-VETRINA-VAST"];
        if (vast && !(answer.ASSETS || []).length) {
          const ad = readVast(vast);
          if (ad && ad.linear) { fallback = ad; setTimeout(playFallback, 0); }
        }
      });
      hls.on(Hls.Events.INTERSTITIAL_ASSET_STARTED, (_event, data) => {
        // hls.js starts the asset before it announces the list it came from: read the list off the event.
        const answer = data.event.assetListResponse || {};
        const tracking = (answer["X-VETRINA-ADS"] || [])[data.assetListIndex];
        if (showing) showing.end();
        showing = tracking ? this.showInterstitial(hls, tracking, data.asset, data.player) : null;
      });
      hls.on(Hls.Events.INTERSTITIAL_ASSET_ENDED, () => { if (showing) showing.end("complete"); showing = null; });
      hls.on(Hls.Events.INTERSTITIAL_ASSET_ERROR, () => { if (showing) showing.fail(); showing = null; });
      hls.on(Hls.Events.INTERSTITIAL_ENDED, () => { if (showing) showing.end(); showing = null; });
      return true;
    }

    // One interstitial asset on screen: label and countdown, skip once allowed, "Learn more"; beacons once each.
    showInterstitial(hls, tracking, asset, assetPlayer) {
      const sent = new Set();
      const once = (event, urls) => {
        if (sent.has(event)) return;
        sent.add(event);
        webUrls(urls || tracking.events[event] || []).forEach((url) => fire(url));
      };
      const chrome = Object.assign(document.createElement("div"), { className: "ad-chrome" });
      const label = Object.assign(document.createElement("span"), { className: "ad-label", textContent: t("Ad") });
      const skip = Object.assign(document.createElement("button"), { type: "button", className: "ad-skip", hidden: true });
      chrome.append(label, skip);
      const clickThrough = webUrl(tracking.click_through);
      if (clickThrough) {
        const visit = Object.assign(document.createElement("a"), {
          className: "ad-visit", href: clickThrough, target: "_blank", rel: "noopener", textContent: t("Learn more"),
        });
        visit.addEventListener("click", () => { this.film.pause(); webUrls(tracking.click_tracking || []).forEach((url) => fire(url)); });
        chrome.append(visit);
      }
      this.root.append(chrome);
      this.root.classList.add("in-ad");
      once("impression", tracking.impressions);
      once("start");
      const duration = asset.duration || 0;
      const elapsed = () => (assetPlayer && Number.isFinite(assetPlayer.currentTime) ? assetPlayer.currentTime : this.film.currentTime);
      const render = () => showProgress(elapsed(), duration, tracking.skip_offset_s, label, skip, once);
      this.film.addEventListener("timeupdate", render);
      let ended = false;
      const end = (event) => {  // once: a skip ends it before hls.js says the asset ended
        if (ended) return;
        ended = true;
        if (event) once(event);
        this.film.removeEventListener("timeupdate", render);
        chrome.remove();
        this.root.classList.remove("in-ad");
      };
      skip.addEventListener("click", () => {
        // The playlist forbids skipping (X-RESTRICT) for players that cannot know the ad's skip offset; this one
        // has waited it out, so it lifts the restriction for the break playing and lets hls.js move on.
        const item = hls.interstitialsManager.playingItem;
        if (item && item.event) item.event.restrictions.skip = false;
        end("skip");
        hls.interstitialsManager.skip();
      });
      return { end, fail: () => { webUrls(tracking.errors || []).forEach((url) => fire(url, 405)); end(); } };
    }

    async load() {
      const response = await fetch("/api/v1/videos/" + this.videoId + "/vmap", { credentials: "same-origin" });
      if (!response.ok) return;
      const doc = new DOMParser().parseFromString(await response.text(), "application/xml");
      this.breaks = byName(doc, "AdBreak").map((b) => {
        const offset = b.getAttribute("timeOffset");
        return {
          id: b.getAttribute("breakId"), type: b.getAttribute("breakType"), tag: text(first(b, "AdTagURI")),
          at: offset === "start" ? 0 : offset === "end" ? Infinity : seconds(offset),
        };
      }).filter((b) => !(this.interstitials && b.type === "linear"));  // hls.js plays those from the playlist
    }

    // Breaks start while the film plays: a pre-roll at the first play, the others as the film reaches them.
    tick(t) {
      if (this.playing || this.film.paused || (this.player && this.player.inAd())) return;
      for (const item of this.breaks) {
        if (this.done.has(item.id) || item.at === null || item.at === Infinity || t < item.at) continue;
        this.done.add(item.id);
        this.fill(item);
        if (item.type === "linear") return;
      }
    }

    async fill(item) {
      let ad = null;
      try {
        const response = await fetch(item.tag, { credentials: "include" });
        ad = readVast(await response.text());
      } catch (error) {
        return;
      }
      if (!ad) return;
      if (item.type === "linear" && ad.linear) this.playLinear(ad);
      else if (ad.overlay) this.showOverlay(ad);
    }

    playLinear(ad) {
      const linear = ad.linear;
      const hls = linear.files.find((f) => f.type === "application/x-mpegURL");
      const mp4 = linear.files.find((f) => f.type === "video/mp4");
      if (!hls && !mp4) return ad.errors.forEach((url) => fire(url, 403));
      this.playing = true;
      const resumeAt = this.film.currentTime;
      this.film.pause();
      const video = Object.assign(document.createElement("video"), { playsInline: true, muted: this.film.muted });
      const label = Object.assign(document.createElement("span"), { className: "ad-label", textContent: t("Ad") });
      const skip = Object.assign(document.createElement("button"), { type: "button", className: "ad-skip", hidden: true });
      const visit = Object.assign(document.createElement("a"), {
        className: "ad-visit", href: linear.clickThrough || "#", target: "_blank", rel: "noopener", textContent: t("Learn more"),
      });
      const layer = Object.assign(document.createElement("div"), { className: "ad-layer" });
      layer.append(video, label, skip, visit);
      this.root.append(layer);
      if (hls && window.Hls && window.Hls.isSupported()) {
        this.adHls = new window.Hls({ enableInterstitialPlayback: false });  // an ad's own playlist has breaks too
        this.adHls.loadSource(hls.url);
        this.adHls.attachMedia(video);
      } else {
        video.src = (mp4 || hls).url;
      }
      const sent = new Set();
      const once = (event) => {
        if (sent.has(event)) return;
        sent.add(event);
        (linear.tracking[event] || []).forEach((url) => fire(url));
      };
      const finish = (event) => {
        once(event);
        if (this.adHls) { this.adHls.destroy(); this.adHls = null; }
        layer.remove();
        this.playing = false;
        this.film.currentTime = resumeAt;
        this.film.play().catch(() => {});
      };
      video.addEventListener("playing", () => {
        if (!sent.has("impression")) { sent.add("impression"); ad.impressions.forEach((url) => fire(url)); }
        once("start");
      }, { once: true });
      video.addEventListener("timeupdate", () => {
        showProgress(video.currentTime, video.duration || linear.duration || 1, linear.skipOffset, label, skip, once);
      });
      skip.addEventListener("click", () => finish("skip"));
      visit.addEventListener("click", () => { video.pause(); });
      video.addEventListener("ended", () => finish("complete"));
      video.addEventListener("error", () => { ad.errors.forEach((url) => fire(url, 405)); finish("error"); });
      video.play().catch(() => { video.muted = true; video.play().catch(() => finish("error")); });
    }

    async showOverlay(ad) {
      const overlay = ad.overlay;
      const shop = window.vetrinaShop;
      let product = null;
      if (overlay.productId) {
        const response = await fetch("/api/v1/products/" + overlay.productId + "/card", { credentials: "same-origin" });
        if (response.ok) product = await response.json();
      }
      ad.impressions.forEach((url) => fire(url));
      (overlay.tracking.creativeView || []).forEach((url) => fire(url));
      const clicked = () => overlay.clickTracking.forEach((url) => fire(url));
      const card = document.createElement("div");
      card.className = "product-card ad-card";
      const image = Object.assign(document.createElement("img"), { src: (product && product.image) || overlay.image || "", alt: "" });
      const words = document.createElement("div");
      words.className = "card-text";
      words.append(Object.assign(document.createElement("small"), { className: "ad-sponsored", textContent: t("Sponsored") }),
                   Object.assign(document.createElement("strong"), { textContent: product ? product.title : ad.title }));
      const actions = document.createElement("div");
      actions.className = "card-actions";
      if (product && product.in_stock && shop) {
        words.append(Object.assign(document.createElement("span"), { textContent: moneyText(product.price) }));
        const buy = Object.assign(document.createElement("button"), { type: "button", className: "card-buy", textContent: t("Buy") });
        buy.addEventListener("click", () => { clicked(); shop.openDrawer(product); });
        const hold = Object.assign(document.createElement("button"), { type: "button", className: "card-hold", textContent: t("Hold") });
        hold.addEventListener("click", () => { clicked(); shop.hold(product); });
        actions.append(buy, hold);
      } else if (overlay.clickThrough) {
        actions.append(Object.assign(document.createElement("a"), { href: overlay.clickThrough, target: "_blank", textContent: t("See it") }));
      }
      const close = Object.assign(document.createElement("button"), { type: "button", className: "ad-close", textContent: "×" });
      close.setAttribute("aria-label", t("Close the ad"));
      close.addEventListener("click", () => { (overlay.tracking.close || []).forEach((url) => fire(url)); card.remove(); });
      words.append(actions);
      card.append(image, words, close);
      (this.root.querySelector(".cards") || this.root).append(card);
      setTimeout(() => card.remove(), Math.max(overlay.duration, 8) * 1000);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const root = document.getElementById("player");
    if (!root || root.dataset.status !== "ready") return;
    setTimeout(() => { window.vetrinaAds = new AdLayer(root, window.vetrinaPlayer); }, 0);
  });
})();

// The Vetrina player: HLS through hls.js (or the browser's own HLS), with our own controls,
// quality selection and seek previews from the WebVTT thumbnail track. Ad breaks come in the playlist as HLS
// Interstitials, which hls.js plays in the same <video>: while one plays, the controls keep showing the film's
// time (filmTime) and the page hears no film time (ads.js draws the ad's label, countdown and skip button).
"use strict";

function formatTime(seconds) {
  const s = Math.max(0, Math.floor(seconds || 0));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return (h ? h + ":" : "") + mm + ":" + String(sec).padStart(2, "0");
}

function parseVttTime(text) {
  const parts = text.trim().split(":").map(Number);
  return parts.reduce((total, part) => total * 60 + part, 0);
}

// Cues of a thumbnail track: [{start, end, url, x, y, w, h}], with image URLs made absolute.
function parseThumbnailTrack(text, baseUrl) {
  const cues = [];
  const blocks = text.replace(/\r/g, "").split("\n\n");
  for (const block of blocks) {
    const lines = block.trim().split("\n");
    const timing = lines.findIndex((line) => line.includes("-->"));
    if (timing < 0 || !lines[timing + 1]) continue;
    const [start, end] = lines[timing].split("-->").map(parseVttTime);
    const [file, fragment] = lines[timing + 1].trim().split("#xywh=");
    const [x, y, w, h] = (fragment || "0,0,0,0").split(",").map(Number);
    cues.push({ start, end, url: new URL(file, baseUrl).href, x, y, w, h });
  }
  return cues;
}

// Live HLS (1 s segments; ffmpeg writes no partial segments, so no low-latency mode): start two seconds behind the
// edge, and jump back to it past six (after a stall).
const LIVE_HLS_CONFIG = {
  capLevelToPlayerSize: true,
  lowLatencyMode: false,
  liveSyncDuration: 2,
  liveMaxLatencyDuration: 6,
  backBufferLength: 30,
};
// An ad plays in its own player attached to the same <video> (never appended into the film's buffer), so the
// film's media time is never shifted by an ad's length.
const VOD_HLS_CONFIG = { capLevelToPlayerSize: true, interstitialAppendInPlace: false };

class VetrinaPlayer {
  constructor(root) {
    this.root = root;
    this.video = root.querySelector("video");
    this.controls = root.querySelector(".controls");
    this.playButton = root.querySelector(".play");
    this.seek = root.querySelector(".seek");
    this.played = root.querySelector(".seek-played");
    this.buffered = root.querySelector(".seek-buffered");
    this.handle = root.querySelector(".seek-handle");
    this.timeLabel = root.querySelector(".time");
    this.quality = root.querySelector(".quality");
    this.preview = root.querySelector(".preview");
    this.thumbnails = [];
    this.hls = null;
    this.live = root.dataset.live === "true";
    this.attachSource(root.dataset.hls);
    this.loadThumbnails(root.dataset.thumbnails);
    this.bindControls();
  }

  attachSource(url) {
    const video = this.video;
    if (window.Hls && window.Hls.isSupported()) {
      this.hls = new window.Hls(this.live ? LIVE_HLS_CONFIG : VOD_HLS_CONFIG);
      this.hls.loadSource(url);
      this.hls.attachMedia(video);
      this.hls.on(window.Hls.Events.MANIFEST_PARSED, (_event, data) => {
        this.fillQualities(data.levels);
        if (this.live) this.startMuted();
      });
      this.hls.on(window.Hls.Events.LEVEL_SWITCHED, () => this.showAutoLevel());
      this.hls.on(window.Hls.Events.ERROR, (_event, data) => {
        if (!data.fatal) return;
        if (data.type === window.Hls.ErrorTypes.NETWORK_ERROR) this.hls.startLoad();
        else if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) this.hls.recoverMediaError();
      });
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = url;  // Safari and others play HLS natively and pick the quality themselves.
      this.quality.closest("label").hidden = true;
    } else {
      this.root.insertAdjacentHTML("beforeend", '<p class="processing"></p>');
      this.root.lastElementChild.textContent = t("This browser cannot play HLS video.");
    }
  }

  // A live show starts playing on its own, muted (browsers allow no sound before a gesture); the viewer unmutes.
  startMuted() {
    this.video.muted = true;
    this.root.classList.add("muted");
    this.video.play().catch(() => {});
  }

  // Whether an HLS interstitial (an ad break) is playing in place of the film.
  inAd() {
    const breaks = this.hls && this.hls.interstitialsManager;
    return Boolean(breaks && breaks.playingItem && breaks.playingItem.event);
  }

  // Where the film is, in its own seconds, even while an ad plays in the <video>.
  filmTime() {
    return this.inAd() ? this.hls.interstitialsManager.primary.currentTime : this.video.currentTime;
  }

  // The program date time of the frame on screen (a live show's stream time), or null.
  streamTime() {
    const date = this.hls && this.hls.playingDate;
    return date ? date : null;
  }

  fillQualities(levels) {
    const byHeight = levels.map((level, index) => ({ index, height: level.height }))
      .sort((a, b) => b.height - a.height);
    for (const { index, height } of byHeight) {
      const option = document.createElement("option");
      option.value = String(index);
      option.textContent = height + "p";
      this.quality.append(option);
    }
  }

  showAutoLevel() {
    const auto = this.quality.querySelector('option[value="-1"]');
    const level = this.hls.levels[this.hls.currentLevel];
    auto.textContent = this.hls.autoLevelEnabled && level ? t("Auto ({height}p)", { height: level.height }) : t("Auto");
  }

  async loadThumbnails(url) {
    if (!url) return;
    try {
      const response = await fetch(url);
      if (response.ok) this.thumbnails = parseThumbnailTrack(await response.text(), response.url);
    } catch (error) {
      this.thumbnails = [];  // Seek previews are a nicety; playback goes on without them.
    }
  }

  thumbnailAt(seconds) {
    return this.thumbnails.find((cue) => seconds >= cue.start && seconds < cue.end) || null;
  }

  bindControls() {
    const video = this.video;
    this.playButton.addEventListener("click", () => this.togglePlay());
    video.addEventListener("click", () => this.togglePlay());
    video.addEventListener("play", () => this.renderPlayState());
    video.addEventListener("pause", () => this.renderPlayState());
    video.addEventListener("timeupdate", () => this.renderTime());
    video.addEventListener("progress", () => this.renderBuffered());
    video.addEventListener("loadedmetadata", () => this.renderTime());
    // ?t=SECONDS starts there (the selling-seconds chart links to its moments).
    const start = Number(new URLSearchParams(window.location.search).get("t"));
    if (start > 0) {
      video.addEventListener("loadedmetadata", () => { video.currentTime = Math.min(start, video.duration || start); },
                             { once: true });
    }
    this.quality.addEventListener("change", () => {
      if (this.hls) this.hls.currentLevel = Number(this.quality.value);
    });
    this.root.querySelector(".mute").addEventListener("click", (event) => {
      video.muted = !video.muted;
      this.root.classList.toggle("muted", video.muted);
      event.currentTarget.setAttribute("aria-label", video.muted ? t("Unmute") : t("Mute"));
    });
    this.root.querySelector(".fullscreen").addEventListener("click", () => this.toggleFullscreen());
    this.bindSeekBar();
    this.bindKeyboard();
    this.bindIdle();
  }

  seekFraction(clientX) {
    const box = this.seek.getBoundingClientRect();
    return Math.min(1, Math.max(0, (clientX - box.left) / box.width));
  }

  bindSeekBar() {
    let dragging = false;
    const seekTo = (clientX) => {
      if (this.inAd()) return;  // an ad break is neither skipped nor seeked through
      if (this.video.duration) this.video.currentTime = this.seekFraction(clientX) * this.video.duration;
    };
    this.seek.addEventListener("pointerdown", (event) => {
      dragging = true;
      this.seek.setPointerCapture(event.pointerId);
      seekTo(event.clientX);
    });
    this.seek.addEventListener("pointermove", (event) => {
      this.showPreview(event.clientX);
      if (dragging) seekTo(event.clientX);
    });
    this.seek.addEventListener("pointerup", () => { dragging = false; });
    this.seek.addEventListener("pointerleave", () => { if (!dragging) this.preview.hidden = true; });
  }

  showPreview(clientX) {
    const duration = this.video.duration;
    if (!duration || this.inAd()) return;
    const fraction = this.seekFraction(clientX);
    const seconds = fraction * duration;
    const cue = this.thumbnailAt(seconds);
    const image = this.preview.querySelector(".preview-img");
    image.hidden = !cue;
    if (cue) {
      image.style.backgroundImage = 'url("' + cue.url + '")';
      image.style.backgroundPosition = -cue.x + "px " + -cue.y + "px";
      image.style.width = cue.w + "px";
      image.style.height = cue.h + "px";
    }
    this.preview.querySelector(".preview-time").textContent = formatTime(seconds);
    const playerBox = this.root.getBoundingClientRect();
    const half = (cue ? cue.w : 40) / 2 + 4;
    const x = Math.min(playerBox.width - half, Math.max(half, clientX - playerBox.left));
    this.preview.style.left = x + "px";
    this.preview.hidden = false;
  }

  bindKeyboard() {
    this.root.tabIndex = 0;
    this.root.addEventListener("keydown", (event) => {
      const target = event.target;
      // Native controls keep their own keys: a select its arrows, a button or a link its Space and Enter.
      if (target.tagName === "SELECT" || event.ctrlKey || event.metaKey || event.altKey) return;
      if (["BUTTON", "A", "INPUT"].includes(target.tagName) && (event.key === " " || event.key === "Enter")) return;
      const video = this.video;
      const seekTo = (seconds) => { video.currentTime = Math.min(video.duration || 0, Math.max(0, seconds)); };
      const tenth = (video.duration || 0) / 10;
      const actions = {
        " ": () => this.togglePlay(), Enter: () => this.togglePlay(), k: () => this.togglePlay(),
        ArrowLeft: () => seekTo(video.currentTime - 5), ArrowRight: () => seekTo(video.currentTime + 5),
        m: () => this.root.querySelector(".mute").click(), f: () => this.toggleFullscreen(),
      };
      // The seek bar is a slider: its arrows, Home, End and Page keys move through the film.
      if (target === this.seek) {
        Object.assign(actions, {
          ArrowDown: actions.ArrowLeft, ArrowUp: actions.ArrowRight, Home: () => seekTo(0),
          End: () => seekTo(video.duration || 0), PageDown: () => seekTo(video.currentTime - tenth),
          PageUp: () => seekTo(video.currentTime + tenth),
        });
      }
      const moves = /^(Arrow|Home|End|Page)/.test(event.key);
      const action = moves && this.inAd() ? null : actions[event.key];
      if (action) { event.preventDefault(); action(); }
    });
  }

  bindIdle() {
    let timer = null;
    const wake = () => {
      this.root.classList.remove("idle");
      clearTimeout(timer);
      timer = setTimeout(() => { if (!this.video.paused) this.root.classList.add("idle"); }, 2500);
    };
    for (const name of ["pointermove", "pointerdown", "keydown", "focusin"]) this.root.addEventListener(name, wake);
    wake();
  }

  togglePlay() {
    if (this.video.paused) this.video.play().catch(() => {});
    else this.video.pause();
  }

  toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen();
    else this.root.requestFullscreen && this.root.requestFullscreen();
  }

  renderPlayState() {
    const paused = this.video.paused;
    this.root.classList.toggle("playing", !paused);
    this.playButton.setAttribute("aria-label", paused ? t("Play") : t("Pause"));
  }

  renderTime() {
    if (this.inAd()) return;  // the bar and the page keep the film's time; ads.js shows the ad's
    const { currentTime, duration } = this.video;
    const fraction = duration ? currentTime / duration : 0;
    this.played.style.width = fraction * 100 + "%";
    this.handle.style.left = fraction * 100 + "%";
    this.seek.setAttribute("aria-valuenow", currentTime.toFixed(1));
    this.root.dispatchEvent(new CustomEvent("vetrina:time", { detail: { currentTime, duration } }));
    if (this.live) {
      const behind = this.hls && this.hls.latency ? Math.round(this.hls.latency) : 0;
      this.timeLabel.textContent = behind > 10 ? t("LIVE −{behind}", { behind: formatTime(behind) }) : t("LIVE");
      this.seek.setAttribute("aria-valuetext", this.timeLabel.textContent);
      return;
    }
    this.timeLabel.textContent = formatTime(currentTime) + " / " + formatTime(duration);
    this.seek.setAttribute("aria-valuetext",
                           t("{time} of {duration}", { time: formatTime(currentTime), duration: formatTime(duration) }));
  }

  renderBuffered() {
    const { buffered, duration } = this.video;
    if (!duration || !buffered.length) return;
    this.buffered.style.width = (buffered.end(buffered.length - 1) / duration) * 100 + "%";
  }
}

// While a video is being prepared, its owner watches the progress; the page reloads when it is ready.
function watchProcessing(root) {
  const bar = root.querySelector("progress");
  const label = root.querySelector(".percent");
  const poll = async () => {
    try {
      const response = await fetch("/api/v1/videos/" + root.dataset.videoId, { credentials: "same-origin" });
      if (response.ok) {
        const video = await response.json();
        bar.value = video.progress;
        label.textContent = new Intl.NumberFormat(VETRINA_LOCALE, { style: "percent" }).format(video.progress);
        if (video.status !== "processing") return window.location.reload();
      }
    } catch (error) {
      // A dropped connection or a restarting server: keep polling.
    }
    setTimeout(poll, 1500);
  };
  setTimeout(poll, 1500);
}

// A live show not streaming yet (or between streams): the page reloads when it goes live or ends.
function watchShow(root) {
  const poll = async () => {
    try {
      const response = await fetch("/api/v1/live/" + root.dataset.showId);
      if (response.ok) {
        const show = await response.json();
        const streaming = show.status === "live" && show.hls_url;
        if (streaming || show.status !== root.dataset.showStatus) return window.location.reload();
      }
    } catch (error) {
      // A dropped connection or a restarting server: keep polling.
    }
    setTimeout(poll, 2000);
  };
  setTimeout(poll, 2000);
}

document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("player");
  if (!root) return;
  if (root.dataset.status === "ready") window.vetrinaPlayer = new VetrinaPlayer(root);
  else if (root.dataset.status === "processing") watchProcessing(root);
  else if (root.dataset.live === "true" && root.dataset.showStatus !== "ended") watchShow(root);
});

// Subtitles: the film's subtitle renditions (listed in its master playlist) in a menu of the controls, Off and each
// language by its own name. hls.js shows the chosen one (subtitleTrack), or the browser's own text tracks when it
// plays HLS itself. The viewer's choice is remembered by language tag, and chosen again on the next film that has it.
const SUBTITLES_CHOICE = "vetrina.subtitles";  // localStorage: the language tag chosen last, or "off"

function rememberedSubtitles() {
  try {
    return window.localStorage.getItem(SUBTITLES_CHOICE);
  } catch (error) {
    return null;  // storage refused (a private window, a sandboxed frame): nothing remembered
  }
}

function rememberSubtitles(choice) {
  try {
    window.localStorage.setItem(SUBTITLES_CHOICE, choice);
  } catch (error) {
    // Not remembered; this film still shows the choice.
  }
}

class SubtitlesMenu {
  constructor(player) {
    this.player = player;
    this.control = player.root.querySelector(".subtitles-control");
    this.button = player.root.querySelector(".subtitles");
    this.menu = player.root.querySelector(".subtitles-menu");
    this.tracks = [];  // [{language, name}], in the player's order of tracks
    this.current = -1;
    if (!this.control || !this.button || !this.menu) return;
    this.button.addEventListener("click", () => (this.menu.hidden ? this.open() : this.close(true)));
    this.button.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") { event.preventDefault(); event.stopPropagation(); this.open(); }
      if (event.key === "Escape") this.close(true);
    });
    this.menu.addEventListener("keydown", (event) => this.onMenuKey(event));
    this.control.addEventListener("focusout", (event) => {
      if (!this.control.contains(event.relatedTarget)) this.close(false);
    });
    document.addEventListener("pointerdown", (event) => {
      if (!this.control.contains(event.target)) this.close(false);
    });
    const hls = player.hls;
    if (hls) {
      hls.on(window.Hls.Events.SUBTITLE_TRACKS_UPDATED, (_event, data) => this.setTracks(data.subtitleTracks));
      hls.on(window.Hls.Events.SUBTITLE_TRACK_SWITCH, (_event, data) => this.showChoice(data.id));
    } else {
      const textTracks = player.video.textTracks;
      textTracks.addEventListener("addtrack", () => this.setTracks(this.nativeTracks()));
      textTracks.addEventListener("change", () => {
        this.showChoice(this.nativeTracks().findIndex((track) => track.mode === "showing"));
      });
      if (this.nativeTracks().length) this.setTracks(this.nativeTracks());
    }
  }

  nativeTracks() {
    return Array.from(this.player.video.textTracks).filter((track) => track.kind === "subtitles" || track.kind === "captions");
  }

  setTracks(tracks) {
    this.tracks = tracks.map((track) => {
      const language = track.lang || track.language || "";
      return { language, name: track.name || track.label || language };
    });
    this.control.hidden = this.tracks.length === 0;
    const remembered = rememberedSubtitles();
    const index = remembered && remembered !== "off" ? this.indexOf(remembered) : -1;
    // hls.js picks its own track right after announcing the tracks: the remembered one is chosen after that.
    queueMicrotask(() => this.select(index));
  }

  // The track in `language`: the same tag, else the same language ("zh-Hans" finds "zh"); -1 for none.
  indexOf(language) {
    const wanted = language.toLowerCase();
    const exact = this.tracks.findIndex((track) => track.language.toLowerCase() === wanted);
    if (exact >= 0) return exact;
    const primary = wanted.split("-")[0];
    return this.tracks.findIndex((track) => track.language.toLowerCase().split("-")[0] === primary);
  }

  select(index) {
    const hls = this.player.hls;
    if (hls) {
      hls.subtitleDisplay = index >= 0;
      hls.subtitleTrack = index;
    } else {
      this.nativeTracks().forEach((track, at) => { track.mode = at === index ? "showing" : "disabled"; });
    }
    this.showChoice(index);
  }

  // The viewer's own choice: remembered for the next film.
  choose(index) {
    rememberSubtitles(index >= 0 ? this.tracks[index].language : "off");
    this.select(index);
    this.close(true);
  }

  showChoice(index) {
    this.current = index >= 0 && index < this.tracks.length ? index : -1;
    const chosen = this.tracks[this.current];
    this.button.classList.toggle("on", Boolean(chosen));
    this.button.setAttribute("aria-label", chosen ? t("Subtitles: {language}", { language: chosen.name }) : t("Subtitles: off"));
    for (const item of this.menu.querySelectorAll("[role=menuitemradio]")) {
      item.setAttribute("aria-checked", String(Number(item.dataset.index) === this.current));
    }
  }

  open() {
    const choices = [{ index: -1, name: t("Off"), language: "" }];
    this.tracks.forEach((track, index) => choices.push({ index, name: track.name, language: track.language }));
    this.menu.replaceChildren(...choices.map((choice) => {
      const item = document.createElement("button");
      item.type = "button";
      item.setAttribute("role", "menuitemradio");
      item.setAttribute("aria-checked", String(choice.index === this.current));
      item.dataset.index = String(choice.index);
      if (choice.language) item.lang = choice.language;  // read aloud in its own language
      item.textContent = choice.name;
      item.addEventListener("click", () => this.choose(choice.index));
      return item;
    }));
    this.menu.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    (this.menu.querySelector("[aria-checked=true]") || this.menu.firstElementChild).focus();
  }

  close(returnFocus) {
    if (this.menu.hidden) return;
    this.menu.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
    if (returnFocus) this.button.focus();
  }

  onMenuKey(event) {
    const items = Array.from(this.menu.querySelectorAll("[role=menuitemradio]"));
    const at = items.indexOf(document.activeElement);
    const moves = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: items.length - 1 };
    if (event.key === "Escape") {
      event.preventDefault();
      this.close(true);
    } else if (event.key in moves) {
      event.preventDefault();
      items[(moves[event.key] + items.length) % items.length].focus();
    }
    if (event.key !== "Tab") event.stopPropagation();  // the player's own keys (seek, mute) wait while it is open
  }
}

document.addEventListener("DOMContentLoaded", () => {
  if (window.vetrinaPlayer) window.vetrinaPlayer.subtitles = new SubtitlesMenu(window.vetrinaPlayer);
});

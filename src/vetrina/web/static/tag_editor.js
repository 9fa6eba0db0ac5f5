// The tag editor's "Tag a product" form: the video with its own (keyboard-operable) controls to find the moment,
// "now" buttons to take its time, and the product's place on the picture, drawn with a pointer, moved with the
// arrow keys (Shift+arrows resize it) or typed in percent. Sent to the tags API; the new tag joins the list.
"use strict";

// A recognition run in progress: its progress is polled (the page is not reloaded under its reader every few
// seconds, WCAG 2.2.1), and the page reloads once, when the run has finished, to list its proposals.
(() => {
  const line = document.querySelector(".run-status[data-run-url]");
  if (!line) return;
  const bar = line.querySelector("progress"), percent = line.querySelector(".run-percent");
  const poll = async () => {
    try {
      const response = await fetch(line.dataset.runUrl, { credentials: "same-origin" });
      if (response.ok) {
        const run = await response.json();
        if (run.status !== "queued" && run.status !== "running") return window.location.reload();
        bar.value = run.progress;
        percent.textContent = new Intl.NumberFormat(VETRINA_LOCALE, { style: "percent" }).format(run.progress);
      }
    } catch (error) {
      // A dropped connection or a restarting server: keep polling.
    }
    setTimeout(poll, 2000);
  };
  setTimeout(poll, 2000);
})();

(() => {
  const form = document.getElementById("tag-form");
  if (!form) return;
  const video = document.getElementById("tag-video");
  const stage = document.getElementById("tag-stage");
  const box = document.getElementById("tag-box");
  const status = document.getElementById("tag-status");
  const where = document.getElementById("tag-box-where");  // read out as the box moves
  const placed = form.elements.placed;
  const edges = ["box_x", "box_y", "box_w", "box_h"].map((name) => form.elements[name]);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  if (window.Hls && window.Hls.isSupported()) {
    const hls = new window.Hls({ capLevelToPlayerSize: true });
    hls.loadSource(video.dataset.hls);
    hls.attachMedia(video);
  } else {
    video.src = video.dataset.hls;
  }

  for (const button of form.querySelectorAll("[data-now]")) {
    button.addEventListener("click", () => {
      form.elements[button.dataset.now].value = (Math.round(video.currentTime * 10) / 10).toString();
    });
  }

  // The box in percent of the picture, kept inside it, at least 2 % a side.
  const clamp = (value, low, high) => Math.min(high, Math.max(low, value));
  function read() {
    const [x, y, w, h] = edges.map((input) => Number(input.value) || 0);
    const width = clamp(w, 2, 100), height = clamp(h, 2, 100);
    return { x: clamp(x, 0, 100 - width), y: clamp(y, 0, 100 - height), w: width, h: height };
  }
  function write(next) {
    const fixed = { ...next, w: clamp(next.w, 2, 100), h: clamp(next.h, 2, 100) };
    fixed.x = clamp(fixed.x, 0, 100 - fixed.w);
    fixed.y = clamp(fixed.y, 0, 100 - fixed.h);
    edges.forEach((input, i) => { input.value = String(Math.round([fixed.x, fixed.y, fixed.w, fixed.h][i] * 10) / 10); });
    draw();
  }
  function draw() {
    const on = placed.checked;
    box.hidden = !on;
    stage.classList.toggle("placing", on);  // a finger draws the box instead of scrolling the page
    for (const input of edges) input.disabled = !on;
    if (!on) return;
    const b = read();
    Object.assign(box.style, { left: b.x + "%", top: b.y + "%", width: b.w + "%", height: b.h + "%" });
    where.textContent = t("left {x}%, top {y}%, width {w}%, height {h}%",
                          { x: b.x, y: b.y, w: b.w, h: b.h });
  }
  placed.addEventListener("change", draw);
  for (const input of edges) input.addEventListener("input", draw);

  // Arrow keys move the box by 1 % (5 % with Alt); with Shift they change its width and height instead.
  box.addEventListener("keydown", (event) => {
    const step = event.altKey ? 5 : 1;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    const move = moves[event.key];
    if (!move) return;
    event.preventDefault();
    const b = read();
    if (event.shiftKey) write({ ...b, w: b.w + move[0], h: b.h + move[1] });
    else write({ ...b, x: b.x + move[0], y: b.y + move[1] });
  });

  // A pointer draws the box: press at one corner, release at the other.
  let start = null;
  const at = (event) => {
    const r = stage.getBoundingClientRect();
    return { x: clamp(((event.clientX - r.left) / r.width) * 100, 0, 100),
             y: clamp(((event.clientY - r.top) / r.height) * 100, 0, 100) };
  };
  stage.addEventListener("pointerdown", (event) => {
    if (!placed.checked || event.target === video && event.offsetY > video.clientHeight - 48) return;  // its controls
    start = at(event);
    stage.setPointerCapture(event.pointerId);
    event.preventDefault();
  });
  stage.addEventListener("pointermove", (event) => {
    if (!start) return;
    const end = at(event);
    write({ x: Math.min(start.x, end.x), y: Math.min(start.y, end.y),
            w: Math.abs(end.x - start.x), h: Math.abs(end.y - start.y) });
  });
  stage.addEventListener("pointerup", () => { start = null; });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { product_id: Number(form.elements.product_id.value),
                   start_s: Number(form.elements.start_s.value), end_s: Number(form.elements.end_s.value) };
    if (placed.checked) {
      const b = read();
      body.box = { x: b.x / 100, y: b.y / 100, w: b.w / 100, h: b.h / 100 };
    }
    // aria-disabled, not disabled, while it saves: a disabled button would drop the keyboard focus on it.
    const submit = form.querySelector("button[type=submit]");
    if (submit.getAttribute("aria-disabled") === "true") return;
    submit.setAttribute("aria-disabled", "true");
    status.textContent = t("Saving…");
    try {
      const response = await fetch("/api/v1/videos/" + form.dataset.videoId + "/tags", {
        method: "POST", credentials: "same-origin", body: JSON.stringify(body),
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(answer.detail || t("Something went wrong ({status}).", { status: response.status }));
      const title = form.elements.product_id.selectedOptions[0].textContent;
      const list = document.getElementById("tag-list");
      const empty = list.querySelector(".empty");
      if (empty) empty.remove();
      const item = document.createElement("li");
      const span = document.createElement("span");
      span.className = "meta";
      span.textContent = t("{start}–{end} s", { start: answer.start_s.toFixed(1), end: answer.end_s.toFixed(1) });
      item.append(title + " ", span);
      list.append(item);
      status.textContent = t("Tagged {title} from {start} s to {end} s.",
                             { title, start: answer.start_s, end: answer.end_s });
    } catch (error) {
      status.textContent = error.message;
    } finally {
      submit.removeAttribute("aria-disabled");
    }
  });
  draw();
})();

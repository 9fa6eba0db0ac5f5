// The studio page: collects the form into a spot request, previews it, renders it and follows its progress.
"use strict";

(function () {
  const form = document.getElementById("studio-form");
  if (!form) return;
  const errorBox = document.getElementById("studio-error");
  const notesList = document.getElementById("studio-notes");
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

  function ids(name) {
    return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((box) => Number(box.value));
  }

  function spotRequest() {
    const value = (name) => form.elements[name].value;
    const music = value("music_id");
    const logo = value("logo_id");
    return {
      template: value("template"), duration_s: Number(value("duration_s")), aspect: value("aspect"),
      product_ids: ids("product_ids"), product_image_ids: ids("product_image_ids"), image_ids: ids("image_ids"),
      headline: value("headline").trim(),
      lines: [...form.querySelectorAll('input[name="line"]')].map((input) => input.value.trim()).filter(Boolean),
      // An empty call to action is the template's own, in the spot's language.
      show_price: form.elements.show_price.checked, cta: value("cta").trim() || null, language: value("language"),
      brand_color: value("brand_color"), text_color: value("text_color"),
      music_id: music ? Number(music) : null, logo_id: logo ? Number(logo) : null,
      voiceover: form.elements.voiceover.checked,
    };
  }

  function showError(problem) {
    const field = problem.field ? ` (${problem.field})` : "";
    const detail = problem.detail || (Array.isArray(problem.errors) ? problem.errors.map((e) => e.msg).join("; ") : "");
    errorBox.textContent = (detail || t("Something went wrong.")) + field;
    errorBox.hidden = false;
  }

  function showNotes(notes) {
    notesList.replaceChildren(...(notes || []).map((note) => Object.assign(document.createElement("li"), { textContent: note })));
  }

  async function call(method, path, body, headers = {}) {
    const isForm = body instanceof FormData;
    const response = await fetch(path, {
      method, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(), ...(isForm ? {} : { "Content-Type": "application/json" }), ...headers },
      body: body === undefined ? undefined : isForm ? body : JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw data;
    return data;
  }

  // While a request runs the buttons say so (aria-disabled) and do nothing: disabling them would drop the focus of
  // the keyboard user who pressed one.
  function busy(on) {
    form.setAttribute("aria-busy", String(on));
    for (const button of form.querySelectorAll("button")) {
      if (on) button.setAttribute("aria-disabled", "true");
      else button.removeAttribute("aria-disabled");
    }
  }
  const isBusy = () => form.getAttribute("aria-busy") === "true";

  document.getElementById("preview-button").addEventListener("click", async () => {
    if (isBusy()) return;
    errorBox.hidden = true;
    busy(true);
    document.getElementById("preview-hint").textContent = t("Rendering a preview…");
    try {
      const preview = await call("POST", "/api/v1/studio/previews", spotRequest());
      const video = document.getElementById("preview-video");
      video.src = preview.url;
      video.hidden = false;
      video.play().catch(() => {});
      document.getElementById("preview-hint").textContent = t("Preview {width}×{height}, {seconds} s.", {
        width: preview.width, height: preview.height, seconds: preview.duration_s.toLocaleString(VETRINA_LOCALE),
      });
      showNotes(preview.notes);
    } catch (problem) {
      document.getElementById("preview-hint").textContent = "";
      showError(problem);
    } finally {
      busy(false);
    }
  });

  document.getElementById("render-button").addEventListener("click", async () => {
    if (isBusy()) return;
    errorBox.hidden = true;
    busy(true);
    const key = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()).replace(/-/g, "");
    try {
      const accepted = await call("POST", "/api/v1/studio/spots", spotRequest(), { "Idempotency-Key": key });
      follow(accepted.id);
    } catch (problem) {
      showError(problem);
      busy(false);
    }
  });

  function follow(spotId) {
    const status = document.getElementById("render-status");
    const text = document.getElementById("render-text");
    const bar = document.getElementById("render-progress");
    status.hidden = false;
    const poll = async () => {
      let spot;
      try {
        spot = await call("GET", `/api/v1/studio/spots/${spotId}`);
      } catch (problem) {
        showError(problem);
        busy(false);
        return;
      }
      bar.value = spot.progress;
      showNotes(spot.notes);
      if (spot.status === "rendering") {
        text.textContent = t("Rendering… {percent}", {
          percent: spot.progress.toLocaleString(VETRINA_LOCALE, { style: "percent", maximumFractionDigits: 0 }),
        });
        setTimeout(poll, 1000);
        return;
      }
      busy(false);
      if (spot.status === "ready") {
        text.replaceChildren(t("Published:"), " ", Object.assign(document.createElement("a"), {
          href: spot.watch_url, textContent: spot.title, className: "spot-ready",
        }));
      } else {
        text.textContent = t("The render failed.");
        showError({ detail: spot.error });
      }
    };
    poll();
  }

  async function upload(input, path, onDone) {
    const file = input.files[0];
    if (!file) return;
    errorBox.hidden = true;
    const body = new FormData();
    body.append("file", file);
    try {
      onDone(await call("POST", path, body));
    } catch (problem) {
      showError(problem);
    } finally {
      input.value = "";
    }
  }

  document.getElementById("image-upload").addEventListener("change", (event) => upload(event.target,
    "/api/v1/studio/images", (asset) => {
      const item = document.createElement("li");
      const label = Object.assign(document.createElement("label"), { title: asset.filename });
      const box = Object.assign(document.createElement("input"), { type: "checkbox", name: "image_ids", value: asset.id, checked: true });
      label.append(box, Object.assign(document.createElement("img"), { src: asset.thumb_url, alt: asset.filename }));
      item.append(label);
      document.getElementById("photo-choices").append(item);
      document.getElementById("logo-select").append(new Option(asset.filename, asset.id));
    }));

  document.getElementById("music-upload").addEventListener("change", (event) => upload(event.target,
    "/api/v1/studio/music", (asset) => {
      const seconds = t("{seconds} s", { seconds: Math.round(asset.duration_s) });
      const option = new Option(`${asset.filename} (${seconds})`, asset.id, true, true);
      document.getElementById("music-select").append(option);
    }));
})();

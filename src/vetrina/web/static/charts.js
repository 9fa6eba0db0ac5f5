// Charts drawn by uPlot (served from node_modules at /static/vendor/uplot). Each figure[data-chart] carries its data
// as JSON (web/charts.py): an x axis of a video's seconds (shown as m:ss or h:mm:ss) or of labelled days and months,
// and series with a unit (counts, minutes, money in minor units shown in the page's language and currency), an axis
// and lines or bars. The legend shows the values under the cursor. On a video's timeline a drag zooms in, a double
// click or "Whole video" shows it all again, and a click on a second plays the video from there. Nothing animates.
"use strict";

(() => {
  if (typeof uPlot === "undefined") return; // the tables beside the charts still hold every figure

  const HEIGHT = 300;
  const DOUBLE_CLICK_MS = 300; // a click on the timeline waits this long: half of a double click must not play
  const SMALLEST_ZOOM = 10; // seconds: "Zoom in" stops at this window
  const SECOND_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400];
  const DAY_STEPS = [1, 2, 3, 7, 14, 28, 56, 91, 182, 364];
  const WHOLE_STEPS = [1, 2, 5].flatMap(n => Array.from({ length: 13 }, (_, power) => n * 10 ** power)).sort((a, b) => a - b);
  const numbers = new Intl.NumberFormat(VETRINA_LOCALE, { maximumFractionDigits: 1 });

  function clock(seconds) {
    const total = Math.max(0, Math.round(seconds));
    const hours = Math.floor(total / 3600), minutes = Math.floor((total % 3600) / 60), rest = total % 60;
    const two = n => String(n).padStart(2, "0");
    return hours ? `${hours}:${two(minutes)}:${two(rest)}` : `${minutes}:${two(rest)}`;
  }

  function textOf(unit, currency) {
    if (unit === "money") return value => moneyText({ amount: value, currency });
    if (unit === "minutes") return value => t("{minutes} min", { minutes: numbers.format(value) });
    return value => numbers.format(value);
  }

  // A value axis as wide as its longest label (money in some languages is long: "1.234,00 €").
  function axisSize(u, values, axisIndex, cycle) {
    const axis = u.axes[axisIndex];
    if (cycle > 1) return axis._size;
    let size = axis.ticks.size + axis.gap;
    const longest = (values || []).reduce((found, value) => (String(value).length > found.length ? String(value) : found), "");
    if (longest) {
      u.ctx.font = axis.font[0];
      size += u.ctx.measureText(longest).width / uPlot.pxRatio;
    }
    return Math.ceil(size);
  }

  // Each product tag's span, shaded behind the series with its label at the top (staggered when they overlap).
  function drawTags(u, tags, colours) {
    const { ctx, bbox } = u, px = uPlot.pxRatio;
    ctx.save();
    ctx.beginPath();
    ctx.rect(bbox.left, bbox.top, bbox.width, bbox.height);
    ctx.clip();
    ctx.font = `${11 * px}px system-ui, sans-serif`;
    tags.forEach((tag, n) => {
      const start = u.valToPos(tag.start - 0.5, "x", true), end = u.valToPos(tag.end - 0.5, "x", true);
      ctx.fillStyle = colours.band;
      ctx.fillRect(start, bbox.top, Math.max(end - start, 2 * px), bbox.height);
      ctx.fillStyle = colours.ink;
      ctx.fillText(tag.label, start + 3 * px, bbox.top + (12 + 13 * (n % 3)) * px);
    });
    ctx.restore();
  }

  function options(figure, spec, width) {
    const style = getComputedStyle(figure);
    const colour = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
    const colours = { ink: colour("--chart-ink", "#e9ecf1"), grid: colour("--chart-grid", "#2c313c"), band: colour("--chart-band", "rgba(255,255,255,.08)") };
    const onSeconds = spec.x.kind === "seconds", last = spec.series[0].values.length - 1;
    const xText = onSeconds ? clock : index => spec.x.labels[index] ?? "";
    const tickText = onSeconds ? clock : index => spec.x.ticks[index] ?? "";
    const sides = ["left", "right"].filter(side => spec.series.some(s => s.axis === side));
    const unitOf = side => spec.series.find(s => s.axis === side).unit;
    let bars = 0;
    const series = spec.series.map(s => {
      const text = textOf(s.unit, spec.currency), tone = colour(`--chart-tone-${s.tone}`, "#4f7cff");
      const drawn = { label: s.label, scale: s.axis, stroke: tone, width: 2, value: (u, v) => (v == null ? "–" : text(v)) };
      if (s.style !== "bars") return drawn;
      // Bars in one chart overlap, each narrower than the one before (clicks inside impressions), also at their
      // widest (a chart of one day).
      const share = Math.max(0.25, 0.7 - 0.3 * bars++);
      return { ...drawn, width: 0, fill: tone, paths: uPlot.paths.bars({ size: [share, Math.round(90 * share)], align: 0 }), points: { show: false } };
    });
    const valueAxis = side => ({
      scale: side,
      side: side === "left" ? 3 : 1,
      label: spec.axes[side],
      stroke: colours.ink,
      grid: { show: side === sides[0], stroke: colours.grid, width: 1 },
      ticks: { stroke: colours.grid, width: 1 },
      incrs: unitOf(side) === "minutes" ? undefined : WHOLE_STEPS,
      values: (u, splits) => splits.map(textOf(unitOf(side), spec.currency)),
      size: axisSize,
    });
    const everyValue = (u, min, max) => uPlot.rangeNum(0, Math.max(max ?? 0, 1), 0.1, true);
    return {
      width,
      height: HEIGHT,
      scales: {
        // Half a step beyond the first and last values, so their bars show whole; uPlot ranges every zoom through
        // this too, so a window inside the data is left as it is.
        x: { time: false, range: (u, min, max) => [min <= 0 ? -0.5 : min, max >= last ? last + 0.5 : max] },
        ...Object.fromEntries(sides.map(side => [side, { range: everyValue }])),
      },
      series: [{ label: spec.x.title, value: (u, v) => (v == null ? "–" : xText(v)) }, ...series],
      axes: [
        {
          label: spec.x.title,
          stroke: colours.ink,
          grid: { show: false },
          ticks: { stroke: colours.grid, width: 1 },
          space: onSeconds ? 60 : 56,
          incrs: onSeconds ? SECOND_STEPS : DAY_STEPS,
          values: (u, splits) => splits.map(v => (Number.isInteger(v) ? tickText(v) : "")),
        },
        ...sides.map(valueAxis),
      ],
      // Only the timeline zooms: elsewhere a drag or double click does nothing.
      cursor: spec.zoom ? { drag: { x: true, y: false, setScale: true } } : { drag: { x: false, y: false, setScale: false }, bind: { dblclick: () => null } },
      legend: { live: true },
      hooks: spec.tags && spec.tags.length ? { drawClear: [u => drawTags(u, spec.tags, colours)] } : {},
    };
  }

  // The timeline: a click on a second plays the video from there (as each row of its table does).
  function playOnClick(u, spec, length) {
    let downAt = null, waiting = null;
    u.over.addEventListener("mousedown", event => { downAt = event.clientX; });
    u.over.addEventListener("click", event => {
      if (downAt !== null && Math.abs(event.clientX - downAt) > 3) return; // a drag: it zoomed
      const left = event.clientX - u.over.getBoundingClientRect().left;
      const second = Math.min(length - 1, Math.max(0, Math.round(u.posToVal(left, "x"))));
      clearTimeout(waiting);
      waiting = setTimeout(() => window.location.assign(spec.play + second), DOUBLE_CLICK_MS);
    });
    u.over.addEventListener("dblclick", () => clearTimeout(waiting)); // it shows the whole video instead
  }

  // Zoom by keyboard too: in (half the window), out (twice), the whole video; the window stays inside the video.
  function zoomButtons(figure, u, length) {
    const first = -0.5, last = length - 0.5, status = figure.querySelector("[data-zoom-range]");
    const windows = {
      in: (min, max) => { const middle = (min + max) / 2, half = Math.max((max - min) / 4, SMALLEST_ZOOM / 2); return [middle - half, middle + half]; },
      out: (min, max) => { const middle = (min + max) / 2, half = max - min; return [middle - half, middle + half]; },
      all: () => [first, last],
    };
    for (const button of figure.querySelectorAll("[data-zoom]")) {
      button.addEventListener("click", () => {
        let [min, max] = windows[button.dataset.zoom](u.scales.x.min, u.scales.x.max);
        const width = Math.min(max - min, last - first);
        if (min < first) [min, max] = [first, first + width];
        if (max > last) [min, max] = [last - width, last];
        u.setScale("x", { min, max });
      });
    }
    const say = () => {
      if (!status) return;
      const start = clock(Math.max(0, Math.ceil(u.scales.x.min))), end = clock(Math.min(length - 1, Math.floor(u.scales.x.max)));
      status.textContent = t("Showing {start} to {end}", { start, end });
    };
    u.hooks.setScale = [...(u.hooks.setScale || []), (self, key) => { if (key === "x") say(); }];
    say();
  }

  function draw(figure) {
    const spec = JSON.parse(figure.querySelector("[data-chart-data]").textContent);
    const box = figure.querySelector(".chart-canvas");
    const length = spec.series.length ? spec.series[0].values.length : 0;
    if (!length) return;
    const data = [Array.from({ length }, (_, i) => i), ...spec.series.map(s => s.values)];
    const u = new uPlot(options(figure, spec, box.clientWidth), data, box);
    const canvas = u.ctx.canvas;
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", figure.querySelector("[data-chart-summary]")?.textContent.trim() || spec.x.title);
    if (spec.play) playOnClick(u, spec, length);
    if (spec.zoom) zoomButtons(figure, u, length);
    new ResizeObserver(() => {
      if (box.clientWidth && box.clientWidth !== u.width) u.setSize({ width: box.clientWidth, height: HEIGHT });
    }).observe(box);
    figure.uplot = u; // for the page's tests
  }

  for (const figure of document.querySelectorAll("figure[data-chart]")) draw(figure);
})();

// The partner desk: follow unfinished feed imports until they end, then reload for the final report.
const RUN_STATUSES = { queued: t("queued"), running: t("running"), done: t("done"), failed: t("failed") };
const runPercent = new Intl.NumberFormat(VETRINA_LOCALE, { style: "percent" });
const runCount = new Intl.NumberFormat(VETRINA_LOCALE);

for (const status of document.querySelectorAll("[data-run-status]")) {
  if (!["queued", "running"].includes(status.dataset.status)) continue;
  const row = status.closest("tr");
  const bar = row.querySelector("progress");
  const counts = row.querySelector("[data-run-counts]");
  const follow = async () => {
    const response = await fetch(status.dataset.runUrl, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const run = await response.json();
    const said = { status: RUN_STATUSES[run.status] || run.status, percent: runPercent.format(run.progress),
      done: runCount.format(run.done), total: runCount.format(run.total) };
    status.textContent = run.total ? t("{status} {percent}: {done} of {total}", said) : t("{status} {percent}", said);
    status.dataset.status = run.status;
    bar.value = run.progress;
    counts.textContent = [run.created, run.updated, run.unchanged, run.failed, run.removed].map(n => runCount.format(n)).join(" · ");
    if (run.status === "queued" || run.status === "running") setTimeout(follow, 1500);
    else window.location.reload();
  };
  setTimeout(follow, 1000);
}

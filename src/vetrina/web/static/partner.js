// The partner desk: follow unfinished feed imports until they end, then reload for the final report.
for (const status of document.querySelectorAll("[data-run-status]")) {
  if (!["queued", "running"].includes(status.dataset.status)) continue;
  const row = status.closest("tr");
  const bar = row.querySelector("progress");
  const counts = row.querySelector("[data-run-counts]");
  const follow = async () => {
    const response = await fetch(status.dataset.runUrl, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const run = await response.json();
    const done = run.total ? `${run.done}/${run.total}` : "";
    status.textContent = `${run.status} ${Math.round(run.progress * 100)}% ${done}`;
    status.dataset.status = run.status;
    bar.value = run.progress;
    counts.textContent = [run.created, run.updated, run.unchanged, run.failed, run.removed].join(" · ");
    if (run.status === "queued" || run.status === "running") setTimeout(follow, 1500);
    else window.location.reload();
  };
  setTimeout(follow, 1000);
}

// 命中率: a running test's progress, polled until it ends (then the page shows its figures);
// deleting a set asks first.
"use strict";

(() => {
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });

  const box = document.querySelector("[data-progress]");
  if (!box) return;
  const text = box.querySelector("[data-progress-text]");
  const bar = box.querySelector("[data-progress-bar]");
  const poll = async () => {
    try {
      const response = await fetch(box.dataset.progress, { credentials: "same-origin" });
      if (response.ok) {
        const run = await response.json();
        text.textContent = `${run.done} / ${run.total}`;
        bar.style.setProperty("--filled", `${run.percent}%`);
        bar.parentElement.setAttribute("aria-valuenow", String(run.percent));
        if (run.status !== "queued" && run.status !== "running") {
          location.reload();
          return;
        }
      }
    } catch (err) {
      // A dropped request: try again at the next tick.
    }
    setTimeout(poll, 2000);
  };
  setTimeout(poll, 2000);
})();

// The progress bar of a cycle build: polls the build's JSON status, reloads the page when the
// build has ended. The page works without it (reload it by hand).
"use strict";
(function () {
  const box = document.getElementById("build-status");
  if (!box || !box.dataset.status) {
    return;
  }
  const bar = document.getElementById("build-progress");
  const text = document.getElementById("build-text");
  async function poll() {
    try {
      const response = await fetch(box.dataset.status, { cache: "no-store" });
      if (response.ok) {
        const status = await response.json();
        if (status.total > 0) {
          bar.max = status.total;
          bar.value = status.done;
        }
        text.textContent = status.text;
        if (status.state === "done" || status.state === "failed") {
          window.location.reload();
          return;
        }
      }
    } catch (error) {
      // the next poll tries again
    }
    window.setTimeout(poll, 1000);
  }
  window.setTimeout(poll, 1000);
})();

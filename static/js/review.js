// Keyboard-first review: every key clicks the button that carries it in data-key.
(function () {
  "use strict";
  const help = () => document.getElementById("help");

  function toggleHelp(force) {
    const overlay = help();
    if (overlay) overlay.hidden = force === undefined ? !overlay.hidden : !force;
  }

  function showExtra(name) {
    const image = document.querySelector(`#item img[data-extra="${name}"]`);
    if (!image) return;
    if (!image.src) image.src = image.dataset.src; // loaded on demand only
    image.hidden = !image.hidden;
  }

  document.addEventListener("click", (event) => {
    const target = event.target.closest("[data-help-toggle], [data-show]");
    if (!target) return;
    if (target.hasAttribute("data-help-toggle")) toggleHelp();
    else showExtra(target.dataset.show);
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    if (event.target.closest("input[type=text], textarea, select")) return;
    if (event.key === "?") { toggleHelp(); event.preventDefault(); return; }
    if (event.key === "Escape") { toggleHelp(false); return; }
    const item = document.getElementById("item");
    if (!item || (help() && !help().hidden)) return;
    const button = item.querySelector(`[data-key="${CSS.escape(event.key)}"]`);
    if (button && !button.disabled) {
      event.preventDefault();
      // A key can arrive before htmx has wired up a fragment it just swapped in; wiring it
      // now keeps the answer an htmx request instead of a full page submit.
      if (window.htmx) window.htmx.process(item);
      button.click();
    }
  });
})();

// Keyboard-first review: every key clicks the button that carries it in data-key.
//
// An item counts as shown once its pictures have loaded. Answer keys pressed before it has been
// shown for the campaign's minimum time (data-min-view, ms) are ignored, so keys typed ahead never
// land on an item nobody saw; the time it was shown is sent with the answer (viewed_ms).
(function () {
  "use strict";
  const help = () => document.getElementById("help");
  let shownAt = null;
  let shownForm = null; // the item's form on screen: a new one after every swap
  let answered = false; // an answer key was taken for it

  function toggleHelp(force) {
    const overlay = help();
    if (overlay) overlay.hidden = force === undefined ? !overlay.hidden : !force;
  }

  function showExtra(name) {
    const figure = document.querySelector(`#item [data-extra="${name}"]`);
    if (!figure) return;
    const image = figure.tagName === "IMG" ? figure : figure.querySelector("img");
    if (image && !image.src) image.src = image.dataset.src; // loaded on demand only
    figure.hidden = !figure.hidden;
  }

  function watchShown() {
    const form = document.querySelector("#item form[data-item]");
    if (!form || form === shownForm) return;
    shownForm = form;
    shownAt = null;
    answered = false;
    const pictures = Array.from(form.querySelectorAll("img[data-shown]"));
    const loaded = () => pictures.every((img) => img.complete && img.naturalWidth > 0);
    const shown = () => { shownAt = performance.now(); form.dataset.shown = "true"; };
    const mark = () => { if (shownAt === null && loaded()) shown(); };
    pictures.forEach((img) => img.addEventListener("load", mark));
    pictures.forEach((img) => img.addEventListener("error", () => { if (shownAt === null) shown(); }));
    mark();
  }

  function viewedMs() {
    return shownAt === null ? 0 : Math.round(performance.now() - shownAt);
  }

  document.addEventListener("DOMContentLoaded", watchShown);
  document.addEventListener("htmx:afterSettle", watchShown);
  document.addEventListener("htmx:configRequest", (event) => {
    if (event.detail.parameters && "viewed_ms" in event.detail.parameters) {
      event.detail.parameters.viewed_ms = String(viewedMs());
    }
  });
  document.addEventListener("submit", (event) => {
    const field = event.target.querySelector && event.target.querySelector("input[name=viewed_ms]");
    if (field) field.value = String(viewedMs());
  });

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
    if (!button || button.disabled) return;
    event.preventDefault();
    watchShown();
    const form = item.querySelector("form[data-item]");
    const answering = button.name === "answer" && form && form.contains(button);
    const seen = viewedMs() >= Number(form?.dataset.minView || 0);
    if (answering && (answered || !seen)) return; // not seen long enough yet, or answered
    // A key can arrive before htmx has wired up a fragment it just swapped in; wiring it
    // now keeps the answer an htmx request instead of a full page submit.
    if (window.htmx) window.htmx.process(item);
    if (answering) answered = true; // one answer per item shown: later keys wait for the next
    button.click();
  });
})();

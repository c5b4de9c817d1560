// Small page behaviours: the phone menu, and live status for background jobs.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const toggle = document.querySelector("[data-menu-toggle]");
  const menu = document.querySelector("[data-menu]");
  if (toggle && menu) {
    toggle.addEventListener("click", () => {
      const open = menu.classList.toggle("open");
      toggle.setAttribute("aria-expanded", String(open));
    });
  }

  // A back link goes back when there is a page to go back to (a citation opened from a chat).
  document.querySelectorAll("a[data-back]").forEach((link) => {
    link.addEventListener("click", (event) => {
      if (document.referrer && new URL(document.referrer).origin === location.origin) {
        event.preventDefault();
        history.back();
      }
    });
  });

  // A cited passage whose segment was re-split since: find it by its article instead.
  if (location.hash.startsWith("#seg-") && !document.getElementById(location.hash.slice(1))) {
    const article = new URLSearchParams(location.search).get("article");
    const found = article && [...document.querySelectorAll("[data-heading]")].find((el) => el.dataset.heading === article);
    if (found) {
      found.classList.add("target");
      found.scrollIntoView();
    }
  }

  // <section data-poll="URL" data-poll-while="queued running">: refresh [data-field] children
  // from the JSON at URL until the job's status leaves the listed states.
  document.querySelectorAll("[data-poll]").forEach((box) => {
    const url = box.getAttribute("data-poll");
    const whileStates = (box.getAttribute("data-poll-while") || "").split(" ");
    let delay = 1000;
    const tick = async () => {
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (!response.ok) throw new Error(String(response.status));
        const data = await response.json();
        box.querySelectorAll("[data-field]").forEach((el) => {
          const value = data[el.getAttribute("data-field")];
          if (Array.isArray(value)) {
            el.replaceChildren(...value.map((text) => Object.assign(document.createElement("p"), { textContent: text })));
            el.hidden = value.length === 0;
          } else if (value !== undefined) {
            el.textContent = String(value);
          }
        });
        if (!whileStates.includes(data.status)) return;
      } catch (err) {
        delay = Math.min(delay * 2, 10000);
      }
      setTimeout(tick, delay);
    };
    if (whileStates.length) setTimeout(tick, delay);
  });
});

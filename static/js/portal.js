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

  // The beta's sign-up button: enrol through the API, so that at the 12:00 rush a 503 busy is
  // said kindly ("人多，请稍后再试") and tried again after its Retry-After, by itself. Without
  // JavaScript the form posts to the page as before.
  document.querySelectorAll("form[data-enrol-api]").forEach((form) => {
    const notice = form.querySelector("[data-enrol-notice]");
    const button = form.querySelector("button");
    const token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    const say = (text) => { notice.textContent = text; notice.hidden = false; };
    const wait = (seconds, message) => new Promise((resolve) => {
      let left = seconds;
      const tick = () => {
        if (left <= 0) { resolve(); return; }
        say(`${message}（${left} ${form.dataset.retrying}）`);
        left -= 1;
        setTimeout(tick, 1000);
      };
      tick();
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      button.disabled = true;
      try {
        for (;;) {
          const response = await fetch(form.dataset.enrolApi, {
            method: "POST",
            credentials: "same-origin",
            headers: { Accept: "application/json", "X-CSRFToken": token },
          });
          const data = await response.json().catch(() => ({}));
          if (response.ok) { location.reload(); return; }
          if (response.status !== 503) { say(data.detail || form.dataset.failed); break; }
          const seconds = parseInt(response.headers.get("Retry-After") || "", 10);
          const spread = Math.floor(Math.random() * 2);
          await wait((Number.isFinite(seconds) && seconds > 0 ? seconds : 3) + spread, data.detail || form.dataset.busy);
        }
      } catch (err) {
        say(form.dataset.failed);
      }
      button.disabled = false;
    });
  });

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

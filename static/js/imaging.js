// Draw: the sizes a purpose allows, and the live status of a request (its API, polled).
(function () {
  "use strict";
  var purpose = document.querySelector("[data-purpose]");
  var size = document.querySelector("[data-size]");
  function fillSizes() {
    if (!purpose || !size) return;
    var option = purpose.options[purpose.selectedIndex];
    var sizes = (option.getAttribute("data-sizes") || "").split(",");
    var keep = size.value || size.getAttribute("data-selected");
    size.innerHTML = "";
    sizes.forEach(function (s) {
      var o = document.createElement("option");
      o.value = s; o.textContent = s.replace("x", " × ");
      if (s === keep) o.selected = true;
      size.appendChild(o);
    });
  }
  if (purpose) { purpose.addEventListener("change", function () { size.value = ""; fillSizes(); }); fillSizes(); }

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });

  var box = document.querySelector("[data-image-status]");
  if (!box) return;
  var status = box.getAttribute("data-status");
  if (status !== "queued" && status !== "running") return;
  var api = box.getAttribute("data-api");
  var position = box.querySelector("[data-position]");
  var queue = box.querySelector("[data-testid=queue-position]");
  function poll() {
    fetch(api, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { setTimeout(poll, 3000); return; }
        if (data.status !== status) { window.location.reload(); return; }
        if (position && data.queue_position) { position.textContent = data.queue_position; queue.hidden = false; }
        setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();

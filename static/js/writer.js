// The draft page: sections arriving live, editing with a server-side preview, regenerating
// and retrying one section, the quick tools (streamed) and 规范检查.
"use strict";

(() => {
  const root = document.getElementById("draft");
  if (!root) return;
  const api = root.dataset.api;
  const mayEdit = root.dataset.mayEdit === "1";
  const csrf = (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1] || "";
  const LABELS = { queued: "排队中", writing: "正在写作…", done: "已完成", failed: "失败" };
  const DRAFT_LABELS = { queued: "排队中", generating: "生成中", ready: "已完成", partial: "部分失败", failed: "生成失败" };
  const badgeClass = (status) => "badge" + (["done", "ready"].includes(status) ? " badge-ok" : ["failed", "partial"].includes(status) ? " badge-err" : " badge-wait");
  let state = JSON.parse(document.getElementById("draft-data").textContent);
  let timer = null;

  const el = (tag, attrs = {}, text = "") => {
    const node = document.createElement(tag);
    Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, v));
    if (text) node.textContent = text;
    return node;
  };

  const send = async (url, method, body) => {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { /* not JSON */ }
    return { ok: response.ok, status: response.status, data };
  };

  const article = (n) => root.querySelector(`[data-position="${n}"]`);

  function renderCitations(box, section) {
    box.replaceChildren();
    if (!section.citations.length) return;
    // A model's text cites these ([n]); a template's text is the draft and these are what the
    // knowledge base holds for it, to work from. Either way the export lists them once, at the end.
    box.append(el("p", { class: "citations-head" }, section.by_model ? "引用" : "参考资料"));
    const list = el("ol", { class: "citations" });
    section.citations.forEach((c) => {
      const item = el("li", { id: `s${section.position}-cite-${c.n}`, value: String(c.n) });
      const link = el("a", { href: c.url, target: "_blank", rel: "noopener" }, c.label);
      item.append(link, el("p", { class: "cite-text muted" }, c.text.length > 120 ? c.text.slice(0, 120) + "…" : c.text));
      list.append(item);
    });
    box.append(list);
  }

  function renderSection(section) {
    const box = article(section.position);
    if (!box) return;
    const editing = box.querySelector("[data-editor]") && !box.querySelector("[data-editor]").hidden;
    box.dataset.status = section.status;
    box.dataset.version = section.version;
    box.querySelector("[data-status-label]").textContent = LABELS[section.status] || section.status;
    box.querySelector("[data-status-label]").className = badgeClass(section.status);
    const error = box.querySelector("[data-error]");
    error.hidden = section.status !== "failed";
    box.querySelector("[data-error-text]").textContent = section.error || "";
    const body = box.querySelector("[data-body]");
    if (!editing) {
      if (section.status === "writing" && !section.content) body.innerHTML = '<p class="muted typing">正在检索资料并写作…</p>';
      else if (section.status === "queued") body.innerHTML = '<p class="muted">排队等待中…</p>';
      else body.innerHTML = section.html; // sanitised by the server (nh3)
      body.classList.toggle("arriving", section.status === "writing");
    }
    renderCitations(box.querySelector("[data-citations]"), section);
    const actions = box.querySelector("[data-actions]");
    if (actions) actions.hidden = !["done", "failed"].includes(section.status) || editing;
  }

  function render(data) {
    state = data;
    data.sections.forEach(renderSection);
    const { done, total } = data.progress;
    document.querySelector("[data-progress]").textContent = `${done}/${total} 段完成`;
    document.querySelector("[data-progress-bar]").style.width = `${Math.round((100 * done) / total)}%`;
    const badge = document.querySelector("[data-draft-status]");
    badge.textContent = DRAFT_LABELS[data.status] || data.status;
    badge.className = badgeClass(data.status);
    const busy = data.sections.some((s) => s.status === "queued" || s.status === "writing");
    document.querySelectorAll("[data-export]").forEach((a) => a.classList.toggle("disabled", busy));
    document.querySelector("[data-export-wait]").hidden = !busy;
    document.querySelector("[data-ai-note]").hidden = !data.sections.some((s) => s.by_model);
    document.body.dataset.draftState = busy ? "busy" : "settled";
    return busy;
  }

  async function poll() {
    clearTimeout(timer);
    try {
      const response = await fetch(api, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok && render(await response.json())) timer = setTimeout(poll, 400);
    } catch (e) {
      timer = setTimeout(poll, 2000);
    }
  }

  if (render(state)) timer = setTimeout(poll, 300);

  document.querySelectorAll("[data-export]").forEach((a) => {
    a.addEventListener("click", (event) => {
      if (a.classList.contains("disabled")) event.preventDefault();
    });
  });

  if (!mayEdit) return;

  root.addEventListener("click", async (event) => {
    const target = event.target.closest("button");
    if (!target) return;
    const box = target.closest("[data-position]");
    const n = box && box.dataset.position;
    const section = state.sections.find((s) => String(s.position) === n);
    if (target.matches("[data-edit]")) {
      const editor = box.querySelector("[data-editor]");
      editor.querySelector("[data-text]").value = section.content;
      editor.dataset.version = section.version;
      editor.querySelector("[data-editor-msg]").textContent = "";
      editor.hidden = false;
      box.querySelector("[data-actions]").hidden = true;
      editor.querySelector("[data-text]").focus();
    } else if (target.matches("[data-cancel]")) {
      target.closest("form").hidden = true;
      renderSection(section);
    } else if (target.matches("[data-preview-btn]")) {
      const form = new FormData();
      form.append("text", box.querySelector("[data-text]").value);
      form.append("anchor", `s${n}`);
      const response = await fetch(root.dataset.preview, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf }, body: form });
      const out = box.querySelector("[data-preview-out]");
      out.innerHTML = (await response.json()).html; // sanitised by the server (nh3)
      out.hidden = false;
    } else if (target.matches("[data-regen-open]")) {
      box.querySelector("[data-regen]").hidden = false;
      // No model: no instruction to type (the form says why), only the button.
      (box.querySelector("[data-instruction]") || box.querySelector("[data-regen] [type=submit]")).focus();
    } else if (target.matches("[data-retry]")) {
      const result = await send(`${api}sections/${n}/regenerate/`, "POST", {});
      if (!result.ok) box.querySelector("[data-error-text]").textContent = result.data.detail || "重试失败";
      poll();
    }
  });

  root.addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const box = form.closest("[data-position]");
    const n = box.dataset.position;
    if (form.matches("[data-editor]")) {
      const result = await send(`${api}sections/${n}/`, "PUT", {
        content: form.querySelector("[data-text]").value,
        version: Number(form.dataset.version),
      });
      if (!result.ok) {
        form.querySelector("[data-editor-msg]").textContent = result.data.detail || "保存失败";
        return;
      }
      form.hidden = true;
      form.querySelector("[data-preview-out]").hidden = true;
      await poll();
    } else if (form.matches("[data-regen]")) {
      const input = form.querySelector("[data-instruction]");
      const result = await send(`${api}sections/${n}/regenerate/`, "POST", input ? { instruction: input.value } : {});
      if (!result.ok) {
        form.querySelector("[data-regen-msg]").textContent = result.data.detail || "操作失败";
        return;
      }
      form.hidden = true;
      await poll();
    }
  });

  // Quick tools: on the text selected in an open editor, else the panel's own box.
  const panel = document.getElementById("tools");
  const input = panel.querySelector("[data-tool-input]");
  const output = panel.querySelector("[data-tool-output]");
  const apply = panel.querySelector("[data-tool-apply]");
  let source = null; // {area, start, end} of the selection a result may replace
  document.addEventListener("selectionchange", () => {
    const area = document.activeElement;
    if (area && area.matches("[data-text]") && area.selectionEnd > area.selectionStart) {
      source = { area, start: area.selectionStart, end: area.selectionEnd };
    }
  });
  let result = "";
  panel.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-tool]");
    if (button) {
      const tool = button.dataset.tool;
      const text = source ? source.area.value.slice(source.start, source.end) : input.value;
      output.replaceChildren();
      apply.hidden = true;
      result = "";
      const response = await fetch(`/api/v1/writer/tools/${tool}/`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify({ text, draft: Number(root.dataset.draft) }),
      });
      if (!response.ok) {
        output.append(el("p", { class: "error" }, (await response.json()).detail || "操作失败"));
        return;
      }
      if (tool === "check") {
        const { findings } = await response.json();
        if (!findings.length) output.append(el("p", { class: "badge badge-ok" }, "未发现问题"));
        const list = el("ul", { class: "findings" });
        findings.forEach((f) => {
          list.append(el("li", {}, `第${f.line}行第${f.column}字：${f.message}${f.fix ? `（建议：${f.fix}）` : ""}`));
        });
        output.append(list);
        return;
      }
      const box = el("div", { class: "tool-text" });
      output.append(box);
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const name = (block.match(/^event: (.*)$/m) || [])[1];
          const data = JSON.parse((block.match(/^data: (.*)$/m) || [])[1] || "{}");
          if (name === "delta") { result += data.text; box.textContent = result; }
          if (name === "error") output.append(el("p", { class: "error" }, data.detail));
          if (name === "done") { result = data.text; box.textContent = result; apply.hidden = !source; }
        }
      }
    } else if (event.target === apply && source) {
      const { area, start, end } = source;
      area.value = area.value.slice(0, start) + result + area.value.slice(end);
      apply.hidden = true;
      source = null;
    }
  });
})();

// 智能对话: ask with a streamed answer (fetch + Server-Sent Events), citations, feedback.
"use strict";

(() => {
  const form = document.querySelector("[data-ask-form]");
  const thread = document.querySelector("[data-thread]");
  const words = JSON.parse(document.getElementById("ask-text").textContent);
  const csrf = () => (document.querySelector("[name=csrfmiddlewaretoken]") || {}).value || "";

  const el = (tag, attrs = {}, text = "") => {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    if (text) node.textContent = text;
    return node;
  };

  // The answer's text with its [n] marks linked to the citation they name.
  const renderText = (box, text, message, count) => {
    box.replaceChildren();
    const parts = text.split(/(\[\d{1,2}\])/);
    for (const part of parts) {
      const mark = part.match(/^\[(\d{1,2})\]$/);
      const n = mark ? Number(mark[1]) : 0;
      if (mark && n >= 1 && n <= count) {
        box.append(el("a", { class: "cite-mark", href: `#cite-${message}-${n}` }, part));
      } else {
        const lines = part.split("\n");
        lines.forEach((line, i) => {
          if (i) box.append(document.createElement("br"));
          if (line) box.append(document.createTextNode(line));
        });
      }
    }
  };

  // An extractive answer quotes the passages already: its list only links their sources.
  const renderCitations = (answer, citations, message, quoted) => {
    answer.querySelector("[data-citations]")?.remove();
    if (!citations.length) return;
    const list = el("ol", { class: "citations" });
    for (const c of citations) {
      const item = el("li", { id: `cite-${message}-${c.n}`, value: String(c.n) });
      const faq = c.kind === "faq";
      const title = faq ? `${c.document}：${c.article}` : `《${c.document}》${c.article || ""}`;
      const link = c.url && !faq ? el("a", { href: c.url, class: "cite-source" }, title) : el("span", { class: "cite-source" }, title);
      const body = c.article && c.text.startsWith(c.article) ? c.text.slice(c.article.length).trim() : c.text;
      const snippet = el("p", { class: "cite-text muted" }, body.length > 120 ? `${body.slice(0, 120)}…` : body);
      item.append(link);
      if (faq && (c.sources || []).length) {
        // An FAQ answer names the articles it rests on: each opens in its law when the base has it.
        const named = el("p", { class: "cite-text muted" }, words.basis);
        c.sources.forEach((s, i) => {
          const label = `《${s.document}》${s.article}`;
          named.append(i ? "、" : "", s.url ? el("a", { href: s.url }, label) : el("span", {}, label));
        });
        item.append(named);
      }
      if (!quoted) item.append(snippet);
      list.append(item);
    }
    const head = el("p", { class: "citations-head" }, words.sources);
    const box = el("div", { "data-citations": "" });
    box.append(head, list);
    answer.querySelector("[data-answer-text]").after(box);
  };

  const addFeedback = (answer, message, rating) => {
    answer.querySelector("[data-feedback-box]")?.remove();
    const box = document.getElementById("feedback-template").content.firstElementChild.cloneNode(true);
    const thanks = box.querySelector("[data-thanks]");
    const reasonForm = box.querySelector("[data-reason-form]");
    // One rating at a time, in order: a reason sent after the thumb must land after it.
    let queue = Promise.resolve();
    const send = (value, reason) => {
      queue = queue.then(() => post(value, reason)).catch(() => {});
    };
    const post = async (value, reason) => {
      const url = form.dataset.feedback.replace("/0/", `/${message}/`);
      const response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
        body: JSON.stringify({ rating: value, reason: reason || "" }),
      });
      if (!response.ok) {
        const data = await response.json().catch(() => ({}));
        thanks.textContent = data.detail || words.failed;
      } else {
        thanks.textContent = reason ? words.noted : words.thanks;
      }
      thanks.hidden = false;
      box.querySelectorAll("[data-rate]").forEach((b) => b.classList.toggle("chosen", b.dataset.rate === value));
    };
    box.querySelectorAll("[data-rate]").forEach((button) => {
      if (button.dataset.rate === rating) button.classList.add("chosen");
      button.addEventListener("click", () => {
        if (button.dataset.rate === "down") {
          reasonForm.hidden = false;
          reasonForm.querySelector("input").focus();
          send("down", "");
        } else {
          reasonForm.hidden = true;
          send("up", "");
        }
      });
    });
    reasonForm.addEventListener("submit", (event) => {
      event.preventDefault();
      send("down", reasonForm.querySelector("input").value);
      reasonForm.hidden = true;
    });
    answer.append(box);
  };

  // Answers already on the page (an earlier conversation).
  thread.querySelectorAll("[data-answer]").forEach((answer) => {
    const message = answer.dataset.message;
    const data = answer.querySelector("script[type='application/json']");
    const citations = data ? JSON.parse(data.textContent) : [];
    const text = answer.querySelector("[data-answer-text]");
    renderText(text, text.textContent, message, citations.length);
    renderCitations(answer, citations, message, answer.dataset.mode === "extractive");
    if (form) addFeedback(answer, message, answer.dataset.rating);
  });

  if (!form) return;
  const input = form.querySelector("textarea");
  const sendButton = form.querySelector("[data-send]");

  // Server-Sent Events read off a fetch body: "event: name\ndata: json\n\n".
  async function* events(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message";
        const data = [];
        for (const line of frame.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
        }
        yield { name, data: data.length ? JSON.parse(data.join("\n")) : null };
      }
    }
  }

  // Seconds the server asked us to wait (Retry-After), with a little spread of our own.
  const retryAfter = (response) => {
    const seconds = parseInt(response.headers.get("Retry-After") || "", 10);
    return (Number.isFinite(seconds) && seconds > 0 ? seconds : 3) + Math.floor(Math.random() * 2);
  };
  const countdown = (box, message, seconds) => new Promise((resolve) => {
    let left = seconds;
    const show = () => { box.textContent = `${message}（${left} ${words.retrying}）`; };
    show();
    const timer = setInterval(() => {
      left -= 1;
      if (left <= 0) { clearInterval(timer); resolve(); } else show();
    }, 1000);
  });

  const ask = async (question) => {
    document.querySelector("[data-welcome]")?.remove();
    thread.append(el("div", { class: "bubble bubble-q" }, question));
    const answer = el("article", { class: "bubble bubble-a streaming", "data-answer": "" });
    const text = el("div", { class: "answer-text", "data-answer-text": "" }, words.thinking);
    const meta = el("div", { class: "answer-meta muted" });
    answer.append(text, meta);
    thread.append(answer);
    answer.scrollIntoView({ block: "end", behavior: "smooth" });
    sendButton.disabled = true;
    let shown = "";
    let citations = [];
    let finished = false;
    try {
      const send = () => fetch(form.dataset.api, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream", "X-CSRFToken": csrf() },
        body: JSON.stringify({ question, conversation: form.dataset.conversation ? Number(form.dataset.conversation) : null, stream: true }),
      });
      let response = await send();
      // 503 busy: too many at once. Say so kindly, count down Retry-After, then ask again.
      for (let tries = 0; response.status === 503 && tries < 5; tries++) {
        const data = await response.json().catch(() => ({}));
        await countdown(text, data.detail || words.busy, retryAfter(response));
        text.textContent = words.thinking;
        response = await send();
      }
      if (!response.ok) {
        const data = await response.json().catch(() => ({}));
        throw new Error(data.detail || words.failed);
      }
      for await (const event of events(response)) {
        if (event.name === "citations") {
          citations = event.data;
        } else if (event.name === "thinking") {
          // A reasoning model thinks before it answers; its thoughts are never sent.
          if (!shown) text.textContent = words.reasoning;
        } else if (event.name === "delta") {
          shown += event.data.text;
          renderText(text, shown, "new", citations.length);
        } else if (event.name === "done") {
          const done = event.data;
          finished = true;
          answer.dataset.message = String(done.message);
          answer.classList.toggle("abstained", done.abstained);
          renderText(text, done.answer, done.message, done.citations.length);
          renderCitations(answer, done.citations, done.message, done.mode === "extractive");
          // As the page renders a stored answer: an abstention is the portal's own wording
          // (also when a model declined) and quotes nothing, so it carries neither label.
          const label = done.mode !== "extractive" ? words.ai : done.citations.length > 0 ? words.extractive : "";
          meta.textContent = done.abstained ? "" : label;
          addFeedback(answer, done.message, "");
          remember(done.conversation, question);
        } else if (event.name === "error") {
          if (event.data.conversation) remember(event.data.conversation, question);
          throw new Error(event.data.message);
        }
      }
      if (!finished) throw new Error(words.failed);  // the connection ended half-way
    } catch (err) {
      answer.classList.add("failed");
      // What had been said stays on screen; the reason follows it.
      const reason = err.message || words.failed;
      if (shown) {
        renderText(text, shown, "new", citations.length);
        text.append(document.createElement("br"), el("strong", {}, reason));
      } else {
        text.textContent = reason;
      }
    } finally {
      answer.classList.remove("streaming");
      sendButton.disabled = false;
    }
  };

  // The conversation a first answer opened: the next question continues it.
  const remember = (conversation, question) => {
    if (String(conversation) === form.dataset.conversation) return;
    form.dataset.conversation = String(conversation);
    const url = form.dataset.conversationUrl.replace("/0/", `/${conversation}/`);
    history.replaceState(null, "", url);
    const list = document.querySelector("[data-conversations]");
    list.querySelector("[data-empty]")?.remove();
    const item = el("li", { class: "current" });
    item.append(el("a", { href: url }, question.slice(0, 40)));
    list.prepend(item);
    const count = document.querySelector("[data-conversation-count]");
    count.textContent = String(list.querySelectorAll("li:not([data-empty])").length);
  };

  // A question over the limit is kept as typed (a maxlength would cut a pasted one silently)
  // and said too long until it fits.
  const tooLong = document.querySelector("[data-too-long]");
  const checkLength = () => {
    const over = input.value.trim().length > Number(input.dataset.max);
    tooLong.hidden = !over;
    tooLong.textContent = over ? words.tooLong.replace("%(n)s", input.value.trim().length) : "";
    input.setAttribute("aria-invalid", over ? "true" : "false");
    return !over;
  };
  input.addEventListener("input", checkLength);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = input.value.trim();
    if (!question || sendButton.disabled || !checkLength()) return;
    input.value = "";
    ask(question);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  document.querySelectorAll("[data-example]").forEach((chip) => {
    chip.addEventListener("click", () => {
      if (!sendButton.disabled) ask(chip.textContent.trim());
    });
  });
})();

document.querySelectorAll("form[data-confirm]").forEach((confirmForm) => {
  confirmForm.addEventListener("submit", (event) => {
    if (!window.confirm(confirmForm.dataset.confirm)) event.preventDefault();
  });
});

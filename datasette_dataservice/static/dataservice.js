// datasette-dataservice: the pages' forms call the JSON API with fetch().
// Same-origin fetch() passes Datasette's header-based CSRF check; no build step.
(function () {
  "use strict";

  async function api(method, url, body, headers) {
    const init = { method: method, headers: Object.assign({ Accept: "application/json" }, headers || {}) };
    if (body !== undefined) {
      if (typeof body === "string" || body instanceof Blob) {
        init.body = body;
      } else {
        init.body = JSON.stringify(body);
        init.headers["Content-Type"] = "application/json";
      }
    }
    const response = await fetch(url, init);
    let data;
    try {
      data = await response.json();
    } catch (e) {
      data = { ok: false, errors: ["HTTP " + response.status] };
    }
    data.status = response.status;
    return data;
  }

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    });
    (children || []).forEach((c) => node.append(c));
    return node;
  }

  function showErrors(box, errors) {
    box.replaceChildren();
    (errors || []).forEach((message) => box.append(el("p", { class: "message-error", text: message })));
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (_, key) => encodeURIComponent(values[key] || ""));
  }

  // Forms marked .ds-form: named inputs become a JSON body; {name} in action/next is filled in.
  function jsonForm(form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const errors = form.querySelector(".ds-errors");
      const values = {};
      const body = {};
      try {
        form.querySelectorAll("[name]").forEach((input) => {
          let value = input.type === "checkbox" ? input.checked : input.value.trim();
          values[input.name] = value;
          if (input.hasAttribute("data-ds-path-only") || value === "") return;
          if (input.hasAttribute("data-ds-json")) {
            try {
              value = JSON.parse(value);
            } catch (e) {
              throw new Error(input.name + ": not valid JSON: " + e.message);
            }
          }
          body[input.name] = value;
        });
      } catch (e) {
        showErrors(errors, [e.message]);
        return;
      }
      const data = await api(form.dataset.dsMethod || "POST", fill(form.getAttribute("action"), values), body);
      if (!data.ok) return showErrors(errors, data.errors);
      const next = form.dataset.dsNext;
      window.location.href = next ? fill(next, Object.assign(values, data)) : window.location.href;
    });
  }

  // Buttons: data-ds-post (restore) and data-ds-delete, then reload.
  function actionButton(button, method, url) {
    button.addEventListener("click", async () => {
      if (button.dataset.dsConfirm && !window.confirm(button.dataset.dsConfirm)) return;
      button.disabled = true;
      const data = await api(method, url);
      if (data.ok) return window.location.reload();
      button.disabled = false;
      button.after(el("span", { class: "message-error", text: " " + (data.errors || []).join("; ") }));
    });
  }

  // The import form: the file is the request body, its content type says the format.
  const TYPES = { csv: "text/csv", tsv: "text/tab-separated-values", json: "application/json",
                  ndjson: "application/x-ndjson", jsonl: "application/x-ndjson" };

  function importForm(form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const file = form.querySelector("input[type=file]").files[0];
      const report = form.querySelector(".ds-report");
      if (!file) return;
      const extension = file.name.split(".").pop().toLowerCase();
      const type = TYPES[extension] || file.type || "text/csv";
      const query = new URLSearchParams({ mode: form.mode.value, on_invalid: form.on_invalid.value });
      const data = await api("POST", form.dataset.url + "?" + query, file, { "Content-Type": type });
      showErrors(form.querySelector(".ds-errors"), data.ok ? [] : data.errors);
      report.replaceChildren();
      if (data.ok) {
        report.append(el("p", { class: "message-info",
          text: `Imported ${data.rows_written} of ${data.rows_read} rows (${data.rows_invalid} invalid).` }));
      }
      const problems = (data.report && data.report.errors) || [];
      if (problems.length) {
        const rows = problems.map((p) => el("tr", {}, [
          el("td", { text: p.rowNumber == null ? "header" : p.rowNumber }),
          el("td", { text: p.fieldName || "" }), el("td", { text: p.message })]));
        report.append(el("table", { class: "rows-and-columns" }, [
          el("thead", {}, [el("tr", {}, ["Row", "Field", "Problem"].map((t) => el("th", { text: t })))]),
          el("tbody", {}, rows)]));
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("form.ds-form").forEach(jsonForm);
    document.querySelectorAll("[data-ds-post]").forEach((b) => actionButton(b, "POST", b.dataset.dsPost));
    document.querySelectorAll("[data-ds-delete]").forEach((b) => actionButton(b, "DELETE", b.dataset.dsDelete));
    document.querySelectorAll("form#ds-import").forEach(importForm);
    const editor = document.getElementById("ds-editor");
    if (editor && window.DataserviceEditor) window.DataserviceEditor(editor, { api, el, showErrors });
    // Says the buttons and forms above now answer; a click before this would do nothing.
    document.documentElement.dataset.dsReady = "true";
  });
})();

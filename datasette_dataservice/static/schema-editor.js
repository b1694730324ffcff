// datasette-dataservice: the schema editor of the datatable page.
// Fields form or raw JSON -> Preview (POST .../schema/plan) -> Apply (PUT with If-Match).
"use strict";
window.DataserviceEditor = function (root, { api, el, showErrors }) {
  const original = JSON.parse(root.querySelector("script.ds-schema").textContent);
  const types = root.dataset.types.split(" ");
  const tbody = root.querySelector(".ds-editor-fields tbody");
  const raw = root.querySelector(".ds-raw");
  const rawRenames = root.querySelector(".ds-raw-renames");
  const errors = root.querySelector(".ds-errors");
  const planBox = root.querySelector(".ds-plan");
  let tab = "form";

  function input(attrs, value) {
    const node = el("input", attrs);
    if (attrs.type === "checkbox") node.checked = !!value;
    else node.value = value == null ? "" : value;
    return node;
  }

  function fieldRow(field, originalName) {
    const constraints = Object.assign({}, field.constraints || {});
    const required = constraints.required;
    const unique = constraints.unique;
    delete constraints.required;
    delete constraints.unique;
    const select = el("select", { class: "ds-f-type", "aria-label": "Type" },
      ["", ...types].map((t) => el("option", { value: t, text: t || "(default)" })));
    select.value = field.type || "";
    const remove = el("button", { type: "button", class: "ds-remove", text: "Remove" });
    const row = el("tr", { class: "ds-field-row" }, [
      el("td", {}, [input({ class: "ds-f-name", "aria-label": "Name", size: 14 }, field.name),
        el("div", { class: "ds-field-error" })]),
      el("td", {}, [select]),
      el("td", {}, [input({ class: "ds-f-format", "aria-label": "Format", size: 8 }, field.format)]),
      el("td", {}, [input({ class: "ds-f-required", type: "checkbox", "aria-label": "Required" }, required)]),
      el("td", {}, [input({ class: "ds-f-unique", type: "checkbox", "aria-label": "Unique" }, unique)]),
      el("td", {}, [input({ class: "ds-f-constraints", "aria-label": "Other constraints", size: 22 },
        Object.keys(constraints).length ? JSON.stringify(constraints) : "")]),
      el("td", {}, [input({ class: "ds-f-description", "aria-label": "Description", size: 16 }, field.description)]),
      el("td", {}, [remove]),
    ]);
    row.dataset.original = originalName || "";
    row.fieldExtra = Object.assign({}, field); // keys the form does not edit (title, rdfType...)
    remove.addEventListener("click", () => row.remove());
    return row;
  }

  function render(schema, renames) {
    const backwards = Object.fromEntries(Object.entries(renames || {}).map(([a, b]) => [b, a]));
    const known = new Set(original.fields.map((f) => f.name));
    tbody.replaceChildren(...schema.fields.map((f) =>
      fieldRow(f, backwards[f.name] || (known.has(f.name) ? f.name : ""))));
  }

  function renameList(names, renames) {
    if (typeof names === "string") return renames[names] || names;
    return (names || []).map((n) => renames[n] || n);
  }

  // The schema and renames the form describes; throws on a bad constraints cell.
  function fromForm() {
    const renames = {};
    const fields = [...tbody.querySelectorAll("tr.ds-field-row")].map((row, index) => {
      const field = Object.assign({}, row.fieldExtra);
      const value = (cls) => row.querySelector(cls).value.trim();
      field.name = value(".ds-f-name");
      ["type", "format", "description"].forEach((key) => {
        const v = value(".ds-f-" + key);
        if (v) field[key] = v; else delete field[key];
      });
      let constraints = {};
      if (value(".ds-f-constraints")) {
        try {
          constraints = JSON.parse(value(".ds-f-constraints"));
        } catch (e) {
          throw new Error(`json_schema: fields[${index}] ("${field.name}"): other constraints are not valid JSON`);
        }
      }
      if (row.querySelector(".ds-f-required").checked) constraints.required = true;
      if (row.querySelector(".ds-f-unique").checked) constraints.unique = true;
      if (Object.keys(constraints).length) field.constraints = constraints; else delete field.constraints;
      if (row.dataset.original && row.dataset.original !== field.name) renames[row.dataset.original] = field.name;
      return field;
    });
    const schema = Object.assign({}, original, { fields: fields });
    if (original.primaryKey) schema.primaryKey = renameList(original.primaryKey, renames);
    if (original.foreignKeys) {
      schema.foreignKeys = original.foreignKeys.map((fk) =>
        Object.assign({}, fk, { fields: renameList(fk.fields, renames) }));
    }
    return { json_schema: schema, renames: renames };
  }

  function fromRaw() {
    try {
      return { json_schema: JSON.parse(raw.value), renames: JSON.parse(rawRenames.value || "{}") };
    } catch (e) {
      throw new Error("The raw JSON is not valid: " + e.message);
    }
  }

  function body() {
    return tab === "raw" ? fromRaw() : fromForm();
  }

  function clearErrors() {
    showErrors(errors, []);
    tbody.querySelectorAll(".ds-field-error").forEach((d) => d.replaceChildren());
    tbody.querySelectorAll(".ds-field-row").forEach((r) => r.classList.remove("ds-invalid"));
  }

  // 'json_schema: fields[2] ("age"): ...' goes next to the third row; the rest above the buttons.
  function reportErrors(messages) {
    const rows = [...tbody.querySelectorAll("tr.ds-field-row")];
    const general = [];
    (messages || []).forEach((message) => {
      const match = /fields\[(\d+)\]/.exec(message);
      const row = tab === "form" && match && rows[Number(match[1])];
      if (!row) return general.push(message);
      row.classList.add("ds-invalid");
      row.querySelector(".ds-field-error").append(el("p", { class: "message-error", text: message }));
    });
    showErrors(errors, general);
  }

  function showPlan(plan) {
    const operations = plan.operations.map((op) => el("tr", {}, [
      el("td", { text: op.kind.replace(/_/g, " ") }), el("td", { text: op.field || "" }),
      el("td", { text: op.effect }),
      el("td", { text: op.failing_rows == null ? "" : String(op.failing_rows) }),
      el("td", { text: (op.examples || []).map((x) => JSON.stringify(x)).join(", ") }),
    ]));
    const summary = plan.operations.length === 0 ? "No changes."
      : plan.valid ? `${plan.operations.length} operation(s); no existing row fails${plan.rebuild ? "; the table is rebuilt" : ""}.`
      : `${plan.failing_rows} existing row(s) would fail: Apply will be refused.`;
    planBox.replaceChildren(
      el("h3", { text: "Preview" }),
      el("p", { class: plan.valid ? "message-info" : "message-warning", text: summary }),
      el("table", { class: "rows-and-columns ds-plan-operations" }, [
        el("thead", {}, [el("tr", {}, ["Operation", "Field", "Effect", "Failing rows", "Examples"]
          .map((t) => el("th", { text: t })))]),
        el("tbody", {}, operations)]),
      el("pre", { class: "ds-plan-sql", text: (plan.sql || []).join(";\n") }));
  }

  async function send(kind) {
    clearErrors();
    let payload;
    try {
      payload = body();
    } catch (e) {
      return reportErrors([e.message]);
    }
    if (kind === "plan") {
      const plan = await api("POST", root.dataset.planUrl, payload);
      return plan.ok ? showPlan(plan) : reportErrors(plan.errors);
    }
    const result = await api("PUT", root.dataset.url, payload, { "If-Match": `"${root.dataset.schemaHash}"` });
    if (result.ok) return window.location.reload();
    reportErrors(result.errors);
    if (result.report && result.report.operations) showPlan(result.report);
  }

  function switchTab(next) {
    clearErrors();
    try {
      if (next === "raw" && tab === "form") {
        const current = fromForm();
        raw.value = JSON.stringify(current.json_schema, null, 2);
        rawRenames.value = JSON.stringify(current.renames);
      } else if (next === "form" && tab === "raw") {
        const current = fromRaw();
        render(current.json_schema, current.renames);
      }
    } catch (e) {
      return reportErrors([e.message]);
    }
    tab = next;
    root.querySelectorAll("[data-tab-body]").forEach((b) => { b.hidden = b.dataset.tabBody !== tab; });
    root.querySelectorAll("[data-tab]").forEach((b) => b.classList.toggle("ds-tab-active", b.dataset.tab === tab));
  }

  render(original, {});
  root.querySelectorAll("[data-tab]").forEach((b) => b.addEventListener("click", () => switchTab(b.dataset.tab)));
  root.querySelector(".ds-add-field").addEventListener("click", () => {
    const row = fieldRow({ name: "", type: "string" }, "");
    tbody.append(row);
    row.querySelector(".ds-f-name").focus();
  });
  root.querySelector(".ds-preview").addEventListener("click", () => send("plan"));
  root.querySelector(".ds-apply").addEventListener("click", () => send("apply"));
};

// Mofang portal: the order wizard's uploads and preview, live job progress (server-sent events), cancel.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

async function api(method, url, body, headers = {}) {
  const response = await fetch(url, { method, body, credentials: "same-origin",
    headers: { "X-CSRF-Token": csrf(), ...headers } });
  const data = response.headers.get("content-type")?.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new Error(typeof data === "string" ? data : (data.detail?.[0]?.msg || data.detail || response.status));
  return data;
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function option(select, value, label) {
  const o = document.createElement("option");
  o.value = value; o.textContent = label ?? value;
  select.appendChild(o);
}

// -- the order wizard --------------------------------------------------------------------------------------
function setupWizard() {
  const form = document.getElementById("wizard-form");
  if (!form) return;
  const data = JSON.parse(document.getElementById("wizard-data").textContent);
  const task = document.getElementById("task"), metric = document.getElementById("metric-name");
  const threshold = document.getElementById("metric-value");
  const fillMetrics = () => {
    metric.innerHTML = "";
    for (const m of data.metrics[task.value] || []) option(metric, m);
    const [name, value] = data.defaults[task.value] || [];
    if (name) { metric.value = name; threshold.value = value; }
  };
  task.addEventListener("change", fillMetrics);
  fillMetrics();
  const status = document.getElementById("upload-status");
  document.getElementById("upload-button").addEventListener("click", async () => {
    const files = document.getElementById("file-input").files;
    for (const file of files) {
      status.textContent = `${data.texts.uploading} ${file.name}…`;
      try {
        const up = await api("POST", `/api/v1/uploads?name=${encodeURIComponent(file.name)}`, file,
                             { "Content-Type": "application/octet-stream" });
        const hidden = document.createElement("input");
        hidden.type = "hidden"; hidden.name = "uploads"; hidden.value = up.upload_id;
        form.appendChild(hidden);
        const line = document.createElement("p");
        line.className = "upload"; line.textContent = `✓ ${up.name} (${up.size_bytes.toLocaleString()} B)`;
        document.getElementById("uploaded").appendChild(line);
        showProfile(await api("GET", `/api/v1/uploads/${up.upload_id}/profile`), data.texts);
        status.textContent = data.texts.uploaded;
      } catch (error) {
        status.textContent = `${data.texts.failed}: ${error.message}`;
      }
    }
  });
}

function showProfile(profile, texts) {
  const table = document.getElementById("profile-table"), body = table.querySelector("tbody");
  const target = document.getElementById("target"), idColumn = document.getElementById("id-column");
  table.classList.remove("hidden");
  for (const column of profile.columns) {
    const row = body.insertRow();
    row.dataset.column = column.name;
    cell(row, column.name);
    cell(row, column.kind);
    cell(row, `${(column.missing_ratio * 100).toFixed(1)}%`);
    cell(row, column.distinct.toLocaleString());
    cell(row, column.samples.join(" | "));
    const found = profile.pii[column.name];
    cell(row, found ? `${texts.pii}: ${found.kind || Object.keys(found.kinds || {}).join(", ")}` : texts.none,
         found ? "pii" : "muted");
    const deny = document.createElement("input");
    deny.type = "checkbox"; deny.name = "deny"; deny.value = column.name;
    row.insertCell().appendChild(deny);
    if (![...target.options].some(o => o.value === column.name)) {
      option(target, column.name);
      option(idColumn, column.name);
    }
  }
}

// -- live progress of a job --------------------------------------------------------------------------------
function setupLine() {
  const line = document.getElementById("line");
  if (!line) return;
  const labels = JSON.parse(document.getElementById("labels").innerHTML);
  const status = document.getElementById("job-status");
  if (["done", "rejected", "failed", "cancelled"].includes(status.dataset.status)) return;
  const source = new EventSource(line.dataset.events);
  source.addEventListener("progress", (event) => drawJob(JSON.parse(event.data), labels));
  source.addEventListener("end", () => source.close());
}

function drawJob(job, labels) {
  const status = document.getElementById("job-status");
  status.dataset.status = job.status;
  status.className = `status s-${job.status}`;
  status.textContent = labels.status[job.status] || job.status;
  for (const station of job.stations) {
    const box = document.getElementById(`station-${station.station}`);
    if (!box) continue;
    box.className = `station s-${station.status}`;
    const list = box.querySelector(".processes");
    for (const process of station.processes) {  // planned processes stay listed (pending) until they run
      let item = [...list.children].find(li => li.dataset.process === process.name);
      if (!item) {
        item = document.createElement("li");
        item.dataset.process = process.name;
        list.appendChild(item);
      }
      item.className = `process s-${process.status}`;
      item.textContent = process.seconds != null ? `${process.name} · ${process.seconds.toFixed(1)}s` : process.name;
    }
  }
  const error = document.getElementById("job-error");
  error.textContent = job.error || "";
  error.classList.toggle("hidden", !job.error);
  const outcome = job.outcome || {};
  if (outcome.verdict) {
    document.getElementById("outcome").classList.remove("hidden");
    const verdict = document.getElementById("verdict");
    verdict.textContent = labels.verdict[outcome.verdict] || outcome.verdict;
    verdict.className = `status s-${outcome.verdict}`;
    document.getElementById("metrics").textContent = Object.entries(outcome.metrics || {})
      .filter(([, v]) => typeof v === "number").map(([k, v]) => `${k} = ${v.toFixed(4)}`).join("   ");
  }
  document.getElementById("report-link").classList.toggle("hidden", !outcome.has_report);
  const product = document.getElementById("product-link");
  if (outcome.product) product.href = `/products/${encodeURIComponent(outcome.product)}`;
  product.classList.toggle("hidden", !outcome.product);
  const cancel = document.getElementById("cancel-job");
  if (cancel && !["queued", "running"].includes(job.status)) cancel.remove();
}

function setupCancel() {
  const button = document.getElementById("cancel-job");
  if (!button) return;
  button.addEventListener("click", async () => {
    button.disabled = true;
    try { await api("POST", `/api/v1/jobs/${button.dataset.job}/cancel`); }
    catch (error) { document.getElementById("job-error").textContent = error.message; button.disabled = false; }
  });
}

document.addEventListener("DOMContentLoaded", () => { setupWizard(); setupLine(); setupCancel(); });

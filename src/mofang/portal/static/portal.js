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
  const initial = JSON.parse(document.getElementById("job-data").textContent || "null");
  if (initial) drawWork(initial, labels);
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
  drawWork(job, labels);
}

// -- the work inside a job: the model workshop's live leaderboard and every reason recorded -------------------
function drawWork(job, labels) {
  const stations = job.stations || [];
  const model = stations.find(s => s.station === "model");
  const train = model && (model.processes || []).find(p => p.name === "train");
  const live = train && train.metrics && train.metrics.live;
  if (live && live.families) drawBoard(live, train, labels.training);
  const reasons = stations.flatMap(s => (s.processes || []).flatMap(
    p => (p.reasons || []).map(text => [labels.training.station[s.station] || s.station, p.name, text])));
  const list = document.getElementById("reasons");
  if (reasons.length && list) {
    document.getElementById("reasons-card").classList.remove("hidden");
    list.replaceChildren(...reasons.map(([station, process, text]) => {
      const li = document.createElement("li");
      const where = document.createElement("span");
      where.className = "muted"; where.textContent = `${station} · ${process}: `;
      li.append(where, text);
      return li;
    }));
  }
}

function drawBoard(live, train, texts) {
  document.getElementById("training").classList.remove("hidden");
  const budget = live.total || live.budget_s || 0;
  const running = train.status === "running";
  const elapsed = running ? (live.done || 0) : (train.seconds ?? live.done ?? 0);
  const share = budget ? Math.min(100, 100 * elapsed / budget) : 0;
  const bar = document.getElementById("budget-bar");
  bar.style.width = `${share.toFixed(1)}%`;
  bar.classList.toggle("over", budget > 0 && elapsed > budget * 1.1);
  bar.parentElement.dataset.share = share.toFixed(0);
  document.getElementById("budget-text").textContent = texts.elapsed
    .replace("{elapsed}", elapsed.toFixed(1)).replace("{budget}", budget.toFixed(1));
  const families = Object.entries(live.families);
  document.getElementById("trials-done").textContent = families.reduce((n, [, f]) => n + (f.trials || 0), 0);
  document.getElementById("training-note").textContent = running && live.note ? `· ${live.note}` : "";
  document.getElementById("best-metric").textContent = `${texts.best} (${live.metric})`;
  const lower = live.direction === "min";
  families.sort(([, a], [, b]) => (a.best == null) - (b.best == null) || (lower ? a.best - b.best : b.best - a.best));
  const body = document.querySelector("#leaderboard tbody");
  body.replaceChildren();
  families.forEach(([name, f], i) => {
    const row = body.insertRow();
    row.dataset.family = name;
    row.className = `s-${f.state}`;
    cell(row, f.best == null ? "" : String(i + 1));
    cell(row, name);
    cell(row, texts[f.state] || f.state);
    cell(row, String(f.trials || 0), "trials");
    cell(row, f.best == null ? "—" : f.best.toFixed(4), "best");
  });
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

// -- documents (report, data card) shown at their full height: no inner scrollbar, nothing cut off ------------
function fitFrames() {
  for (const frame of document.querySelectorAll("iframe.fit")) {
    const fit = () => {
      const doc = frame.contentDocument;
      if (!doc || !doc.documentElement) return;
      frame.style.height = `${doc.documentElement.scrollHeight + 8}px`;
    };
    frame.addEventListener("load", () => {
      fit();
      for (const img of frame.contentDocument?.images || []) img.addEventListener("load", fit);
    });
    window.addEventListener("resize", fit);
    fit();
  }
}

// -- the try-it form: a number outside what training saw is said before it is sent ---------------------------
function setupTry() {
  for (const input of document.querySelectorAll("#try-form input[data-low]")) {
    input.addEventListener("input", () => {
      const value = parseFloat(input.value), low = parseFloat(input.dataset.low), high = parseFloat(input.dataset.high);
      input.classList.toggle("outside", !Number.isNaN(value) && (value < low || value > high));
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setupWizard(); setupLine(); setupCancel(); fitFrames(); setupTry();
});

// The RL Gym viewer page: plain JavaScript, no build step, nothing from the network.
// Every list is paged and filtered by the server (/api/...); this file only draws.
"use strict";

const POLL_MS = 2000;
const PAGE = 50;
const $ = (selector) => document.querySelector(selector);
const state = { view: "table", offset: 0, sort: "file", desc: false, version: -1, rollout: null };

function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => (
    { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function fmt(value, digits = 3) {
  if (value === null || value === undefined) return "–";
  return Number.isInteger(value) ? String(value) : Number(value).toFixed(digits);
}

async function api(path, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== "" && value !== null && value !== undefined) query.set(key, value);
  }
  const response = await fetch(`/api/${path}?${query}`);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function filters() {
  const form = new FormData($("#filters"));
  const params = {};
  for (const [key, value] of form.entries()) if (key !== "signal") params[key] = value.trim();
  return params;
}

function showError(where, error) {
  where.innerHTML = `<p class="failure-box">${esc(error.message)}</p>`;
}

// ---- the table -----------------------------------------------------------------------------

async function loadTable() {
  const body = $("#rollouts tbody");
  let page;
  try {
    page = await api("rollouts", { ...filters(), sort: state.sort, desc: state.desc, offset: state.offset, limit: PAGE });
  } catch (error) { showError($("#table-pager"), error); body.innerHTML = ""; return; }
  body.innerHTML = page.rows.map((row) => `
    <tr data-id="${esc(row.id)}">
      <td>${esc(row.task_id)}</td><td>${esc(row.env)}</td><td>${esc(row.group_id)}</td>
      <td class="num">${row.sample_index}</td>
      <td class="status-${esc(row.status)}">${esc(row.status)}</td><td>${esc(row.failure ?? "")}</td>
      <td class="num">${fmt(row.reward)}</td><td class="num">${row.turns}</td>
      <td class="num">${row.tokens}</td><td class="num">${fmt(row.total_s, 2)}</td>
      <td class="num">${row.version_min === null ? "–" : row.version_min === row.version_max ? row.version_min : `${row.version_min}–${row.version_max}`}</td>
    </tr>`).join("");
  pager($("#table-pager"), page.total, "rollouts");
  for (const th of document.querySelectorAll("th.sortable")) {
    th.classList.toggle("sorted", th.dataset.sort === state.sort);
    th.classList.toggle("desc", th.dataset.sort === state.sort && state.desc);
  }
}

function pager(where, total, noun) {
  const last = Math.min(state.offset + PAGE, total);
  where.innerHTML = `<button data-step="-1" ${state.offset === 0 ? "disabled" : ""}>‹ previous</button>
    <span class="count">${total ? state.offset + 1 : 0}–${last} of ${total} ${noun}</span>
    <button data-step="1" ${last >= total ? "disabled" : ""}>next ›</button>`;
}

function onPager(event) {
  const step = event.target.dataset?.step;
  if (!step) return;
  state.offset = Math.max(0, state.offset + Number(step) * PAGE);
  refresh();
}

// ---- the groups ----------------------------------------------------------------------------

function rewardColour(reward) {
  if (reward === null) return "#e6e9ef";
  const p = Math.max(0, Math.min(1, reward));
  return `hsl(${Math.round(p * 120)}, 60%, 82%)`;
}

async function loadGroups() {
  let page;
  try {
    page = await api("groups", { ...filters(), signal: $("#filters [name=signal]").value, offset: state.offset, limit: PAGE });
  } catch (error) { showError($("#groups"), error); return; }
  $("#groups").innerHTML = page.groups.map((group) => {
    const kind = group.has_signal ? "signal" : "no-signal";
    const samples = group.samples.map((s) => `
      <span class="sample ${s.status === "failed" ? "failed" : ""}" data-id="${esc(s.id)}"
        style="background:${rewardColour(s.reward)}" title="sample ${s.sample_index}: ${esc(s.status)}">
        ${s.status === "failed" ? "failed" : fmt(s.reward, 2)}</span>`).join("");
    return `<div class="group ${kind}">
      <b>${esc(group.task_id)}</b> <span>${esc(group.env)}</span> · group ${esc(group.group_id)}
      · mean ${fmt(group.reward_mean)} <span class="badge ${kind}">${group.has_signal ? "signal" : "no signal"}</span>
      <div class="samples">${samples}</div></div>`;
  }).join("") || `<p class="note">no groups match</p>`;
  pager($("#groups-pager"), page.total, "groups");
}

// ---- the summary charts (inline SVG) -------------------------------------------------------

const PALETTE = ["#3a78c2", "#e07b39", "#3f8f4f", "#a24ec0", "#c23a52", "#2a9d99", "#8c6d31", "#666"];

function legend(names) {
  return `<div class="legend-row">${names.map((name, i) =>
    `<span><i class="swatch" style="background:${PALETTE[i % PALETTE.length]}"></i>${esc(name)}</span>`).join("")}</div>`;
}

// Grouped bars: one group per category, one bar per series.
function bars(categories, series, { width = 600, height = 220 } = {}) {
  const names = Object.keys(series);
  const max = Math.max(1e-9, ...names.flatMap((name) => series[name]));
  const pad = 28, plotH = height - 2 * pad, slot = (width - pad) / Math.max(1, categories.length);
  const bar = Math.max(1, (slot - 4) / Math.max(1, names.length));
  let svg = `<svg viewBox="0 0 ${width} ${height}" width="100%" role="img">`;
  svg += `<line x1="${pad}" y1="${height - pad}" x2="${width}" y2="${height - pad}" stroke="#999"/>`;
  svg += `<text x="2" y="${pad}">${fmt(max, 2)}</text>`;
  categories.forEach((category, c) => {
    names.forEach((name, s) => {
      const value = series[name][c] || 0;
      const h = (value / max) * plotH;
      const x = pad + c * slot + 2 + s * bar;
      svg += `<rect x="${x}" y="${height - pad - h}" width="${bar}" height="${h}" fill="${PALETTE[s % PALETTE.length]}"><title>${esc(name)} ${esc(category)}: ${fmt(value)}</title></rect>`;
    });
    if (categories.length <= 12 || c % Math.ceil(categories.length / 12) === 0) {
      svg += `<text x="${pad + c * slot + 2}" y="${height - pad + 12}">${esc(category)}</text>`;
    }
  });
  return svg + "</svg>" + (names.length > 1 ? legend(names) : "");
}

function lines(series, { width = 600, height = 220 } = {}) {
  const names = Object.keys(series);
  const ks = [...new Set(names.flatMap((name) => Object.keys(series[name]).map(Number)))].sort((a, b) => a - b);
  const pad = 28, plotW = width - 2 * pad, plotH = height - 2 * pad;
  const x = (k) => pad + (ks.length > 1 ? ((k - ks[0]) / (ks[ks.length - 1] - ks[0])) * plotW : plotW / 2);
  const y = (v) => height - pad - v * plotH;
  let svg = `<svg viewBox="0 0 ${width} ${height}" width="100%" role="img">`;
  svg += `<line x1="${pad}" y1="${y(0)}" x2="${width - pad}" y2="${y(0)}" stroke="#999"/>`;
  svg += `<text x="2" y="${y(1) + 4}">1.0</text><text x="2" y="${y(0)}">0</text>`;
  names.forEach((name, s) => {
    const points = Object.entries(series[name]).map(([k, v]) => [x(Number(k)), y(v), k, v]);
    svg += `<polyline fill="none" stroke="${PALETTE[s % PALETTE.length]}" stroke-width="2" points="${points.map((p) => `${p[0]},${p[1]}`).join(" ")}"/>`;
    for (const [px, py, k, v] of points) {
      svg += `<circle cx="${px}" cy="${py}" r="3" fill="${PALETTE[s % PALETTE.length]}"><title>${esc(name)} pass@${k}: ${fmt(v)}</title></circle>`;
    }
  });
  for (const k of ks) svg += `<text x="${x(k) - 3}" y="${height - pad + 12}">${k}</text>`;
  return svg + "</svg>" + legend(names);
}

function histogram(hist) {
  if (!hist.edges.length) return `<p class="note">no values</p>`;
  const labels = hist.edges.slice(0, -1).map((edge) => fmt(edge, 2));
  return bars(labels, hist.counts);
}

function chart(title, body) {
  return `<div class="chart"><h3>${esc(title)}</h3>${body}</div>`;
}

async function loadSummary() {
  let summary;
  try { summary = await api("summary", filters()); } catch (error) { showError($("#charts"), error); return; }
  const envs = Object.keys(summary.time_split);
  const stages = ["policy_s", "tools_s", "verify_s", "other_s"];
  const split = Object.fromEntries(stages.map((stage) => [stage.replace("_s", ""), envs.map((env) => summary.time_split[env][stage])]));
  const statuses = Object.keys(summary.statuses);
  const failures = Object.keys(summary.failures);
  $("#charts").innerHTML = [
    chart(`Reward distribution by environment (${summary.rollouts} rollouts, scored only)`, histogram(summary.rewards)),
    chart("pass@k by environment", Object.keys(summary.pass_at_k).length ? lines(summary.pass_at_k) : `<p class="note">no scored rollouts</p>`),
    chart("Status", bars(statuses, { rollouts: statuses.map((s) => summary.statuses[s]) })),
    chart("Failures by kind", failures.length ? bars(failures, { failed: failures.map((f) => summary.failures[f]) }) : `<p class="note">no failures</p>`),
    chart("Tokens per rollout", histogram(summary.tokens)),
    chart("Time per rollout (mean seconds: policy, tools, verify, other)", bars(envs, split)),
  ].join("");
}

// ---- one rollout ---------------------------------------------------------------------------

function facts(result) {
  const items = [
    ["status", result.status], ["reward", fmt(result.reward)], ["turns", result.turns.length],
    ["policy version", result.policy_version_min === null ? "–" : `${result.policy_version_min}–${result.policy_version_max}`],
    ["prefix", result.prefix_consistent === null ? "no token ids" : result.prefix_consistent ? "consistent" : `broke at turn ${result.prefix_break_turn}`],
    ...Object.entries(result.timing).map(([key, value]) => [key, fmt(value, 3)]),
    ...Object.entries(result.reward_components || {}).map(([key, value]) => [`component ${key}`, fmt(value)]),
    ...Object.entries(result.metrics || {}).map(([key, value]) => [`metric ${key}`, typeof value === "object" ? JSON.stringify(value) : fmt(value)]),
  ];
  const failure = result.failure ? `<div class="failure-box"><b>${esc(result.failure.kind)}</b>: ${esc(result.failure.message)}</div>` : "";
  return items.map(([key, value]) => `<dl><dt>${esc(key)}</dt><dd>${esc(value)}</dd></dl>`).join("") + failure;
}

function bubbles(messages) {
  let policySpoke = false;
  return messages.map((message) => {
    const fromEnv = message.role === "tool" || (message.role === "user" && policySpoke);
    if (message.role === "assistant") policySpoke = true;
    const label = message.role === "tool" ? `tool output${message.name ? ` · ${message.name}` : ""}${message.tool_call_id ? ` · ${message.tool_call_id}` : ""}`
      : fromEnv ? "user · environment turn" : message.role;
    const reasoning = message.reasoning_content ? `<details><summary>reasoning</summary>${esc(message.reasoning_content)}</details>` : "";
    const calls = (message.tool_calls || []).map((call) => `<div class="tool-call">→ ${esc(call.function.name)}(${esc(prettyJson(call.function.arguments))}) <small>${esc(call.id)}</small></div>`).join("");
    return `<div class="bubble ${esc(message.role)} ${fromEnv ? "env" : ""}"><span class="role">${esc(label)}</span>${reasoning}${esc(message.content ?? "")}${calls}</div>`;
  }).join("");
}

function prettyJson(text) {
  try { return JSON.stringify(JSON.parse(text), null, 1); } catch { return text; }
}

function tokenText(segment, i) {
  if (!segment.text) return String(segment.ids[i]);
  return segment.text[i].replace(/\n/g, "↵\n");
}

function tokenSpans(layout, heat) {
  if (layout.source === "none") return `<p class="note">The engine gave no token ids for this rollout (a text-only engine): there are no tokens to show.</p>`;
  const note = layout.segments.some((s) => s.text) ? "" : `<p class="note">Token ids are shown: results carry no token text (start gym view with --tokenizer to see it).</p>`;
  const header = layout.source === "turns" ? `<p class="break-mark">No token view: the prefix broke at turn ${layout.prefix_break_turn}. Each turn shows what its prompt added.</p>` : "";
  const parts = layout.segments.map((segment) => {
    let html = `<div class="turn-head">turn ${segment.turn}</div>`;
    segment.ids.forEach((id, i) => {
      if (i === segment.diverges_at) html += `<span class="break-mark">⟂ prefix broke here (token ${i} of this turn's prompt) </span>`;
      const generated = segment.mask[i] === 1;
      const lp = segment.logprobs[i];
      const broken = segment.diverges_at !== null && i >= segment.diverges_at && !generated;
      let style = "";
      if (heat && generated && lp !== null) style = ` style="background:hsl(${Math.round(Math.exp(lp) * 120)},70%,78%)"`;
      const title = `id ${id}${generated ? ` · logprob ${lp === null ? "n/a" : lp.toFixed(4)}${lp === null ? "" : ` (p=${Math.exp(lp).toFixed(3)})`}` : " · mask 0"}`;
      html += `<span class="tok ${generated ? "gen" : "ctx"}${broken ? " broken" : ""}"${style} title="${esc(title)}">${esc(tokenText(segment, i))}</span>`;
    });
    return html;
  });
  return header + note + parts.join("");
}

async function openRollout(id) {
  state.rollout = id;
  for (const view of document.querySelectorAll(".view")) view.hidden = true;
  $("#detail").hidden = false;
  $("#conversation").innerHTML = $("#tokens").innerHTML = "";
  try {
    const [{ result, file }, layout] = await Promise.all([api(`rollouts/${encodeURIComponent(id)}`), api(`rollouts/${encodeURIComponent(id)}/tokens`)]);
    $("#detail-title").textContent = `${result.task_id} · ${result.env} · sample ${result.sample_index} · group ${result.group_id} · ${file}`;
    $("#detail-facts").innerHTML = facts(result);
    $("#conversation").innerHTML = bubbles(result.messages);
    state.layout = layout;
    $("#tokens").innerHTML = tokenSpans(layout, $("#heatmap").checked);
  } catch (error) { showError($("#detail-facts"), error); }
}

// ---- navigation and live updates -----------------------------------------------------------

function show(view) {
  state.view = view;
  state.rollout = null;
  $("#detail").hidden = true;
  document.body.className = view;
  for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("active", tab.dataset.view === view);
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== `${view}-view`;
  refresh();
}

function refresh() {
  if (state.rollout) return;
  ({ table: loadTable, groups: loadGroups, summary: loadSummary })[state.view]();
}

function fillSelect(name, options) {
  const select = $(`#filters [name=${name}]`);
  const known = new Set([...select.options].map((option) => option.value));
  for (const option of options) if (!known.has(option)) select.add(new Option(option, option));
}

async function poll() {
  try {
    const info = await api("state");
    fillSelect("env", info.envs);
    fillSelect("failure", info.failures);
    const read = info.total_bytes ? Math.floor((100 * info.indexed_bytes) / info.total_bytes) : 100;
    const progress = read < 100 ? `indexing ${read}%` : "live";
    $("#live").textContent = `${info.rollouts} rollouts · ${progress}${info.unreadable ? ` · ${info.unreadable} unreadable lines` : ""}`;
    $("#live").title = info.files.join("\n");
    if (info.version !== state.version) {
      const first = state.version === -1;
      state.version = info.version;
      if (!first) refresh();
    }
  } catch (error) { $("#live").textContent = `disconnected (${error.message})`; }
}

function fromHash() {
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("rollout")) openRollout(hash.get("rollout"));
  else show(hash.get("view") || "table");
}

document.addEventListener("DOMContentLoaded", () => {
  for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => { location.hash = `view=${tab.dataset.view}`; });
  let typing;
  const changed = () => { state.offset = 0; refresh(); };
  $("#filters").addEventListener("change", changed);
  $("#filters").addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(changed, 300); });
  $("#filters").addEventListener("reset", () => setTimeout(changed));
  $("#filters").addEventListener("submit", (event) => { event.preventDefault(); changed(); });
  for (const th of document.querySelectorAll("th.sortable")) th.addEventListener("click", () => {
    state.desc = state.sort === th.dataset.sort ? !state.desc : true;
    state.sort = th.dataset.sort;
    state.offset = 0;
    refresh();
  });
  $("#rollouts tbody").addEventListener("click", (event) => {
    const row = event.target.closest("tr[data-id]");
    if (row) location.hash = `rollout=${row.dataset.id}`;
  });
  $("#groups").addEventListener("click", (event) => {
    const sample = event.target.closest(".sample[data-id]");
    if (sample) location.hash = `rollout=${sample.dataset.id}`;
  });
  $("#table-pager").addEventListener("click", onPager);
  $("#groups-pager").addEventListener("click", onPager);
  $("#close-detail").addEventListener("click", () => { location.hash = `view=${state.view}`; });
  $("#heatmap").addEventListener("change", () => { if (state.layout) $("#tokens").innerHTML = tokenSpans(state.layout, $("#heatmap").checked); });
  window.addEventListener("hashchange", fromHash);
  fromHash();
  poll();
  setInterval(poll, POLL_MS);
});

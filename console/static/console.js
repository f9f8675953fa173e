// The console page: reads the JSON API (the same figures scripts get) and draws with Plotly.js,
// which the collector serves from the `plotly` Python package (no CDN: the machine may be offline).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { teamSort: { key: "spend_usd", descending: true }, members: [], generation: 0 };
const PLOT_CONFIG = { displayModeBar: false, responsive: true, staticPlot: false };
const TOOLS = ["Edit", "MultiEdit", "Write", "NotebookEdit"];

function isoDay(date) { return date.toISOString().slice(0, 10); }

function todayUtc() { return isoDay(new Date()); }

function shiftDays(iso, days) {
  const date = new Date(iso + "T00:00:00Z");
  date.setUTCDate(date.getUTCDate() + days);
  return isoDay(date);
}

function selection() {
  const range = $("range").value;
  let end = todayUtc();
  let start;
  if (range === "custom") {
    start = $("start").value || shiftDays(end, -29);
    end = $("end").value || end;
  } else {
    start = shiftDays(end, -(Number(range) - 1));
  }
  return { start, end, org: $("org").value, team: $("team").value };
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) search.set(key, value);
  return search.toString();
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function getJson(path, params) {
  const response = await fetch(`${path}?${query(params)}`, { credentials: "same-origin", headers: { accept: "application/json" } });
  if (response.status === 401) { window.location.assign("/login"); throw new ApiError(401, "signed out"); }
  let body = null;
  try { body = await response.json(); } catch (_) { /* a proxy's HTML error page */ }
  if (!response.ok) throw new ApiError(response.status, (body && body.message) || response.statusText);
  return body;
}

const number = (value) => (value === null || value === undefined ? "–" : Number(value).toLocaleString("en-US"));
const percent = (rate) => (rate === null || rate === undefined ? "–" : (rate * 100).toFixed(1) + "%");
const usd = (value) => Number(value).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

function setFigure(id, value, text) {
  const element = $(id);
  element.dataset.value = value === null ? "null" : String(value);
  element.textContent = text;
}

function setEmpty(sectionId, empty) {
  document.querySelector(`#${sectionId} .empty`).hidden = !empty;
}

function layout(extra) {
  return Object.assign({
    margin: { l: 50, r: 50, t: 10, b: 40 }, showlegend: true, legend: { orientation: "h", y: -0.2 },
    xaxis: { type: "date", tickformat: "%b %d" }, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
  }, extra);
}

function draw(id, traces, extra) { return Plotly.react($(id), traces, layout(extra || {}), PLOT_CONFIG); }

// Active users per day as bars on the left axis, and another daily figure (`key`) as a line on the right axis.
function drawOverActiveUsers(id, days, column, name, key, color, axisTitle) {
  return draw(id, [
    { type: "bar", name: "Active users", x: days, y: column("active_users"), marker: { color: "#788c5d" } },
    { type: "scatter", mode: "lines+markers", name, x: days, y: column(key), yaxis: "y2", line: { color } },
  ], { yaxis: { title: { text: "active users" }, rangemode: "tozero" },
       yaxis2: { title: { text: axisTitle }, overlaying: "y", side: "right", rangemode: "tozero", tickmode: "auto", showgrid: false } });
}

async function renderAnalytics(view) {
  const days = view.days.map((day) => day.date);
  const totals = view.totals;
  const column = (name) => view.days.map((day) => day[name]);

  setFigure("total-accepted-lines", totals.accepted_lines, number(totals.accepted_lines));
  setFigure("total-removed-lines", totals.removed_lines, number(totals.removed_lines));
  setEmpty("section-lines", totals.accepted_lines === 0 && totals.removed_lines === 0);
  const drawn = [];
  drawn.push(draw("chart-lines", [{ type: "bar", name: "Accepted lines", x: days, y: column("accepted_lines"), marker: { color: "#d97757" } }],
    { yaxis: { title: { text: "lines" }, rangemode: "tozero" } }));

  setFigure("total-acceptance-rate", totals.acceptance_rate, percent(totals.acceptance_rate));
  setFigure("total-decisions", totals.accepts + totals.rejects, number(totals.accepts + totals.rejects));
  const rows = Object.entries(view.acceptance_by_tool)
    .sort(([a], [b]) => (TOOLS.indexOf(a) + 99 * (TOOLS.indexOf(a) < 0)) - (TOOLS.indexOf(b) + 99 * (TOOLS.indexOf(b) < 0)));
  const body = document.querySelector("#acceptance-by-tool tbody");
  body.replaceChildren(...rows.map(([tool, figures]) => {
    const row = document.createElement("tr");
    row.dataset.tool = tool;
    for (const [text, value] of [[tool, tool], [number(figures.accepts), figures.accepts],
      [number(figures.rejects), figures.rejects], [percent(figures.acceptance_rate), figures.acceptance_rate]]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      cell.dataset.value = value === null ? "null" : String(value);
      row.append(cell);
    }
    return row;
  }));
  setEmpty("section-acceptance", totals.acceptance_rate === null);
  drawn.push(draw("chart-acceptance", [{ type: "scatter", mode: "lines+markers", name: "Acceptance rate", x: days,
    y: column("acceptance_rate"), connectgaps: false, line: { color: "#6a9bcc" } }],
    { yaxis: { title: { text: "rate" }, range: [0, 1], tickformat: ".0%" } }));

  setFigure("total-active-users", totals.active_users, number(totals.active_users));
  setFigure("total-sessions", totals.sessions, number(totals.sessions));
  setEmpty("section-activity", totals.active_users === 0);
  drawn.push(drawOverActiveUsers("chart-activity", days, column, "Sessions", "sessions", "#d97757", "sessions"));

  setFigure("total-spend", totals.spend_usd, usd(totals.spend_usd));
  setEmpty("section-spend", totals.spend_usd === 0);
  drawn.push(drawOverActiveUsers("chart-spend", days, column, "Spend (USD)", "spend_usd", "#6a9bcc", "USD"));
  await Promise.all(drawn);
}

function renderTeam() {
  const { key, descending } = state.teamSort;
  const members = [...state.members].sort((a, b) => {
    const left = a[key] ?? "", right = b[key] ?? "";
    const order = typeof left === "number" ? left - right : String(left).localeCompare(String(right));
    return (descending ? -order : order) || a.member.localeCompare(b.member);
  });
  document.querySelectorAll("#team-table th[data-key]").forEach((th) => {
    th.setAttribute("aria-sort", th.dataset.key === key ? (descending ? "descending" : "ascending") : "none");
  });
  const body = document.querySelector("#team-table tbody");
  body.replaceChildren(...members.map((member) => {
    const row = document.createElement("tr");
    row.dataset.member = member.member;
    row.dataset.memberType = member.member_type;
    const cells = [
      [member.member, member.member], [usd(member.spend_usd), member.spend_usd],
      [number(member.accepted_lines), member.accepted_lines], [number(member.sessions), member.sessions],
      [member.last_active ? member.last_active.replace("T", " ").slice(0, 16) + " UTC" : "–", member.last_active],
    ];
    cells.forEach(([text, value], index) => {
      const cell = document.createElement("td");
      cell.textContent = text;
      cell.dataset.value = value === null ? "null" : String(value);
      if (index > 0 && index < 4) cell.className = "number";
      row.append(cell);
    });
    return row;
  }));
  setEmpty("section-team", members.length === 0);
}

function fillSelect(id, values) {
  const select = $(id);
  const current = select.value;
  select.replaceChildren(new Option("All", ""), ...values.map((value) => new Option(value, value)));
  select.value = values.includes(current) ? current : "";
}

async function refresh() {
  const generation = ++state.generation;  // a slow answer to an older selection must not overwrite a newer one
  const chosen = selection();
  const month = chosen.end.slice(0, 7);
  document.body.dataset.state = "loading";
  $("status").className = "status";
  $("status").textContent = "Loading…";
  $("csv-analytics").href = `/api/v1/analytics.csv?${query(chosen)}`;
  $("csv-team").href = `/api/v1/team.csv?${query({ month, org: chosen.org, team: chosen.team })}`;
  $("team-month").textContent = month;
  try {
    const [view, team, filters] = await Promise.all([
      getJson("/api/v1/analytics", chosen),
      getJson("/api/v1/team", { month, org: chosen.org, team: chosen.team }),
      getJson("/api/v1/filters", { start: chosen.start, end: chosen.end }),
    ]);
    if (generation !== state.generation) return;
    fillSelect("org", filters.organizations);
    fillSelect("team", filters.teams);
    await renderAnalytics(view);
    state.members = team.members;
    renderTeam();
    document.body.dataset.range = `${view.start}/${view.end}`;
    $("status").textContent = view.totals.active_users === 0 ? "No activity in this range." : "";
    document.body.dataset.state = "ready";
  } catch (error) {
    if (generation !== state.generation) return;
    $("status").className = "status error";
    $("status").textContent = error.status === 503
      ? "The analytics store is unreachable: figures cannot be shown right now. Try again shortly."
      : `Could not load the figures: ${error.message}`;
    document.body.dataset.state = "error";
  }
}

function init() {
  $("end").value = todayUtc();
  $("start").value = shiftDays(todayUtc(), -29);
  $("range").addEventListener("change", () => {
    const custom = $("range").value === "custom";
    for (const id of ["start", "end", "apply"]) $(id).disabled = !custom;
    if (!custom) refresh();
  });
  $("apply").addEventListener("click", refresh);
  $("org").addEventListener("change", refresh);
  $("team").addEventListener("change", refresh);
  document.querySelectorAll("#team-table th[data-key]").forEach((th) => {
    const sort = () => {
      const same = state.teamSort.key === th.dataset.key;
      state.teamSort = { key: th.dataset.key, descending: same ? !state.teamSort.descending : th.dataset.key !== "member" };
      renderTeam();
    };
    th.addEventListener("click", sort);
    th.addEventListener("keydown", (event) => { if (event.key === "Enter") sort(); });
  });
  getJson("/api/v1/me", {}).then((me) => { $("who").textContent = `${me.name} · ${me.role_name}`; }).catch(() => {});
  refresh();
}

document.addEventListener("DOMContentLoaded", init);

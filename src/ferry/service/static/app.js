// ferry's dashboard: a client of the public API (/v2/{project_id}/...), nothing more.
// Everything from the service is put on the page as text (textContent, attributes): never as markup.
// The token lives in sessionStorage only and goes out in the X-Auth-Token header; no cookie is used.
"use strict";

(() => {
  const REFRESH_MS = 3000;
  const PAGE = 10;
  const FAILED_PAGE = 20;
  const TASK_PAGE = 20;
  const store = window.sessionStorage;
  const main = document.getElementById("main");

  // --- statuses: words (ferry) or OMS numbers, whichever the service sends ---------------------------------
  const GROUP_CODES = { 0: "waiting", 1: "executing", 2: "executing", 3: "stopped", 4: "failed", 5: "failed",
    6: "succeeded", 7: "stopping", 8: "deleting", 9: "deleted" };
  const TASK_CODES = { 1: "waiting", 2: "executing", 3: "stopped", 4: "failed", 5: "succeeded", 6: "executing",
    7: "stopping" };
  const GROUP_FILTER_CODES = { waiting: 0, executing: 2, stopping: 7, stopped: 3, failed: 5, succeeded: 6 };
  const LABELS = { waiting: "Waiting", executing: "Executing", stopping: "Stopping", stopped: "Stopped",
    failed: "Failed", succeeded: "Succeeded", deleting: "Deleting", deleted: "Deleted", unknown: "Unknown" };
  let numericStatuses = false; // learnt from the first answer that carries a number

  function statusWord(value, codes) {
    if (typeof value === "number") {
      numericStatuses = true;
      return codes[value] || "unknown";
    }
    const word = String(value || "").toLowerCase();
    return word in LABELS ? word : "unknown";
  }

  // --- small helpers -------------------------------------------------------------------------------------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }

  function s(tag, attrs, ...children) {
    const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }

  function setAttrs(el, attrs) {
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
      else if (name === "text") el.textContent = String(value);
      else el.setAttribute(name, value === true ? "" : String(value));
    }
  }

  function append(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }

  function num(value) {
    const n = Number(value);
    return Number.isFinite(n) ? n : 0;
  }

  const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  function bytes(n) {
    n = num(n);
    let unit = 0;
    while (Math.abs(n) >= 1024 && unit < UNITS.length - 1) {
      n /= 1024;
      unit += 1;
    }
    const digits = unit === 0 || n >= 100 ? 0 : n >= 10 ? 1 : 2;
    return `${n.toFixed(digits)} ${UNITS[unit]}`;
  }

  const speed = (n) => `${bytes(n)}/s`;
  const count = (n) => num(n).toLocaleString();
  const percent = (p) => `${Math.floor(p * 1000) / 10}%`;

  function when(value) {
    if (value === null || value === undefined || value === "") return null;
    const date = typeof value === "number" ? new Date(value > 1e11 ? value : value * 1000) : new Date(value);
    return Number.isNaN(date.getTime()) ? null : date;
  }

  const TIME = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit",
    minute: "2-digit", second: "2-digit" });
  const CLOCK = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  const SECONDS = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const DAY = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

  const SHORT = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit",
    minute: "2-digit" });

  function timeCell(date, format) {
    return date ? h("time", { datetime: date.toISOString(), title: date.toString() }, (format || TIME).format(date)) : "—";
  }

  function reasonText(reason) {
    if (reason === null || reason === undefined || reason === "") return "";
    if (typeof reason === "object") {
      return [reason.error_code, reason.error_msg].filter(Boolean).join(": ");
    }
    return String(reason);
  }

  function progressOf(doneSize, totalSize, done, total, given, status) {
    // A failed object may have no known size (it was missing): then the bytes alone would say 100%.
    if (totalSize > 0 && total > done) return Math.min(1, doneSize / totalSize, done / total);
    if (totalSize > 0) return Math.min(1, doneSize / totalSize);
    if (total > 0) return Math.min(1, done / total);
    if (typeof given === "number" && given >= 0) return Math.min(1, given > 1 ? given / 100 : given);
    return status === "succeeded" ? 1 : 0;
  }

  // One shape for a group, whatever the wire format (ferry's words and ISO times, or OMS's numbers).
  function groupOf(g) {
    const status = statusWord(g.status, GROUP_CODES);
    const total = num(g.total_num);
    const done = num(g.success_num);
    const skipped = num(g.skip_num);
    const totalSize = num(g.total_size);
    const doneSize = num(g.success_size ?? g.complete_size) + num(g.skip_size);
    return {
      id: String(g.group_id ?? g.id),
      status,
      reason: reasonText(g.error_reason),
      description: g.description || "",
      src: g.src_node || {},
      dst: g.dst_node || {},
      total, done, skipped,
      failed: num(g.fail_num),
      totalSize, doneSize,
      moved: num(g.transferred_size ?? g.complete_size),
      progress: progressOf(doneSize, totalSize, done + skipped, total, g.progress, status),
      speed: num(g.speed ?? g.migrate_speed),
      created: when(g.created_at ?? g.create_time ?? g.submit_time ?? g.start_time),
      started: when(g.started_at ?? g.start_time),
      finished: when(g.finished_at ?? g.finish_time ?? g.end_time),
      tasks: g.task_count ?? g.total_task_num,
      retries: g.retry_count,
      taskType: g.task_type || "",
    };
  }

  function taskOf(t) {
    const status = statusWord(t.status, TASK_CODES);
    const total = num(t.total_num);
    const done = num(t.success_num ?? t.successful_num);
    const skipped = num(t.skip_num ?? t.skipped_num);
    const totalSize = num(t.total_size);
    const doneSize = num(t.success_size ?? t.complete_size) + num(t.skip_size);
    return {
      id: String(t.id),
      name: t.name || String(t.id),
      status,
      reason: reasonText(t.error_reason),
      total, done, skipped,
      failed: num(t.fail_num ?? t.failed_num),
      totalSize, doneSize,
      progress: progressOf(doneSize, totalSize, done + skipped, total, t.progress, status),
      speed: num(t.speed ?? t.migrate_speed),
      worker: Array.isArray(t.workers) && t.workers.length ? t.workers.join(", ") : (t.worker ?? t.worker_id ?? t.worker_name ?? null),
    };
  }

  function nodeText(node, side) {
    const bucket = node.bucket || (node.cloud_type === "URLSource" ? "URL list" : "");
    let where = bucket;
    if (side === "src") {
      const keys = Array.isArray(node.object_key) ? node.object_key.filter((k) => k !== "") : [];
      if (keys.length === 1) where += `/${keys[0]}`;
      else if (keys.length > 1) where += `/${keys[0]} +${keys.length - 1}`;
    } else if (node.save_prefix) {
      where += `/${node.save_prefix}`;
    }
    return { cloud: node.cloud_type || "", where };
  }

  function nodeCell(node, side) {
    const { cloud, where } = nodeText(node, side);
    return h("span", { class: "node" }, h("span", { class: "cloud" }, cloud), h("span", { class: "where" }, where));
  }

  function badge(status) {
    return h("span", { class: `badge s-${status}`, "data-status": status }, LABELS[status] || status);
  }

  function bar(progress, status) {
    const fill = h("span", { class: `fill s-${status}` });
    fill.style.width = `${Math.round(progress * 1000) / 10}%`; // CSSOM: allowed by the CSP
    return h("span", { class: "progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100",
      "aria-valuenow": String(Math.round(progress * 100)) }, h("span", { class: "track" }, fill),
    h("span", { class: "pct" }, percent(progress)));
  }

  let toastTimer = 0;
  function toast(message) {
    const el = document.getElementById("toast");
    el.textContent = message;
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.hidden = true; }, 4000);
  }

  // --- the API -------------------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(message, code, status) {
      super(message);
      this.code = code;
      this.status = status;
    }
  }

  const session = {
    get token() { return store.getItem("ferry.token"); },
    get project() { return store.getItem("ferry.project"); },
    set(token, project) {
      store.setItem("ferry.token", token);
      store.setItem("ferry.project", project);
    },
    clear() {
      store.removeItem("ferry.token");
      store.removeItem("ferry.project");
    },
  };

  async function call(method, url, token, body) {
    const headers = { "X-Auth-Token": token, Accept: "application/json" };
    const init = { method, headers, cache: "no-store", credentials: "omit", redirect: "error" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      throw new ApiError("the service does not answer (is ferry serve running?)", "", 0);
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (err) { data = text; }
    }
    if (!response.ok) {
      const message = data && typeof data === "object" && data.error_msg ? data.error_msg : `HTTP ${response.status}`;
      throw new ApiError(message, data && data.error_code, response.status);
    }
    return { data, response };
  }

  async function api(method, path, body) {
    try {
      const { data } = await call(method, `/v2/${encodeURIComponent(session.project)}${path}`, session.token, body);
      return data;
    } catch (err) {
      if (err.status === 401) {
        session.clear();
        showLogin("Your token is no longer valid: sign in again.");
        throw new ApiError("signed out", err.code, 401);
      }
      throw err;
    }
  }

  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") q.set(k, v);
    const text = q.toString();
    return text ? `?${text}` : "";
  }

  // --- routing and refresh -------------------------------------------------------------------------------
  let view = null; // { refresh(), generation }
  let generation = 0;
  let timer = 0;

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(tick, REFRESH_MS);
  }

  async function tick() {
    const current = view;
    if (current && document.visibilityState === "visible") {
      try { await current.refresh(); } catch (err) { /* shown by the view */ }
    }
    if (current === view) schedule();
  }

  function parseHash() {
    const hash = location.hash.replace(/^#/, "") || "/";
    const [path, search] = hash.split("?");
    const params = new URLSearchParams(search || "");
    const match = path.match(/^\/groups\/(.+)$/);
    if (match) return { name: "group", id: decodeURIComponent(match[1]), params };
    return { name: "list", params };
  }

  function route() {
    generation += 1;
    clearTimeout(timer);
    view = null;
    if (!session.token || !session.project) {
      showLogin("");
      return;
    }
    document.getElementById("who").hidden = false;
    document.getElementById("project").textContent = session.project;
    const where = parseHash();
    view = where.name === "group" ? groupView(where.id) : listView(where.params);
    view.refresh().catch(() => {}).finally(schedule);
  }

  function go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  }

  // --- log in --------------------------------------------------------------------------------------------
  function showLogin(message) {
    generation += 1;
    clearTimeout(timer);
    view = null;
    document.getElementById("who").hidden = true;
    const error = h("p", { class: "form-error", id: "login-error", role: "alert" }, message || "");
    error.hidden = !message;
    const input = h("input", { type: "password", name: "token", id: "token", autocomplete: "off",
      spellcheck: "false", required: true, placeholder: "paste the token" });
    const button = h("button", { type: "submit", class: "btn primary" }, "Sign in");
    const form = h("form", { class: "login card", method: "post", novalidate: true },
      h("h1", {}, "Migration dashboard"),
      h("p", { class: "muted" }, "Sign in with a project token (", h("code", {}, "ferry token create --project NAME"),
        "). It is kept for this browser tab only and sent to this service alone."),
      h("label", { for: "token" }, "Token"), input, error,
      h("div", { class: "actions" }, button));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const token = input.value.trim();
      if (!token) {
        error.textContent = "Enter a token.";
        error.hidden = false;
        return;
      }
      button.disabled = true;
      try {
        const { data } = await call("GET", "/v3/auth/projects", token);
        const project = data && Array.isArray(data.projects) && data.projects[0] && data.projects[0].id;
        if (!project) throw new ApiError("the service found no project for this token", "", 0);
        session.set(token, String(project));
        input.value = "";
        if (location.hash && location.hash !== "#/") route();
        else go("#/");
      } catch (err) {
        error.textContent = err.status === 401
          ? "This token is not valid: the service did not issue it, or it was revoked."
          : `Could not sign in: ${err.message}`;
        error.hidden = false;
        input.select();
      } finally {
        button.disabled = false;
      }
    });
    main.replaceChildren(h("div", { class: "login-wrap" }, form));
    input.focus();
  }

  // --- the list of groups --------------------------------------------------------------------------------
  function listView(params) {
    const mine = generation;
    const status = params.get("status") || "";
    const page = Math.max(1, parseInt(params.get("page") || "1", 10) || 1);
    const select = h("select", { name: "status", id: "status-filter", "aria-label": "Status" },
      h("option", { value: "" }, "All statuses"),
      Object.keys(GROUP_FILTER_CODES).map((word) => h("option", { value: word, selected: word === status }, LABELS[word])));
    select.addEventListener("change", () => go(`#/${query({ status: select.value })}`));
    const counter = h("span", { class: "count muted", id: "group-count" });
    const body = h("tbody", { id: "groups" });
    const pager = h("nav", { class: "pager", "aria-label": "pages" });
    const notice = h("p", { class: "notice error", role: "alert", hidden: true });
    const table = h("table", { class: "groups" },
      h("thead", {}, h("tr", {}, ["Group", "Source", "Destination", "Status", "Progress", "Objects",
        "Data", "Speed", "Created · finished"].map((c) => h("th", { scope: "col" }, c)))),
      body);
    main.replaceChildren(h("section", { class: "page" },
      h("div", { class: "page-head" },
        h("div", {}, h("h1", {}, "Task groups"), counter),
        h("div", { class: "tools" }, select,
          h("button", { type: "button", class: "btn primary", id: "new-group", onclick: () => createDialog() }, "New group"))),
      notice, h("div", { class: "table-wrap card" }, table), pager));

    async function refresh() {
      let data;
      const filter = status && numericStatuses ? GROUP_FILTER_CODES[status] : status;
      try {
        data = await api("GET", `/taskgroups${query({ limit: PAGE, offset: (page - 1) * PAGE, status: filter })}`);
      } catch (err) {
        if (mine !== generation) return;
        notice.textContent = `Could not load the groups: ${err.message}`;
        notice.hidden = false;
        throw err;
      }
      if (mine !== generation) return;
      notice.hidden = true;
      const groups = (data.taskgroups || []).map(groupOf);
      const total = num(data.count);
      counter.textContent = `${count(total)} ${total === 1 ? "group" : "groups"}`;
      if (!groups.length) {
        body.replaceChildren(h("tr", { class: "empty" }, h("td", { colspan: "9" },
          status ? `No ${LABELS[status].toLowerCase()} groups.` : "No task groups yet: create one with New group, ferry group create or the API.")));
      } else {
        body.replaceChildren(...groups.map(groupRow));
      }
      pager.replaceChildren(...pagerItems(page, PAGE, total, (p) => go(`#/${query({ status, page: p > 1 ? p : "" })}`)));
    }
    return { refresh };
  }

  function groupRow(g) {
    const link = `#/groups/${encodeURIComponent(g.id)}`;
    const row = h("tr", { "data-group": g.id, class: "clickable" },
      h("td", { "data-label": "Group" }, h("a", { href: link, class: "group-link" },
        h("span", { class: "title" }, g.description || "Untitled group"), h("span", { class: "id mono" }, g.id.slice(0, 8)))),
      h("td", { "data-label": "Source" }, nodeCell(g.src, "src")),
      h("td", { "data-label": "Destination" }, nodeCell(g.dst, "dst")),
      h("td", { "data-label": "Status", class: "status" }, badge(g.status)),
      h("td", { "data-label": "Progress" }, bar(g.progress, g.status)),
      h("td", { "data-label": "Objects", class: "num objects" }, objectsText(g)),
      h("td", { "data-label": "Data", class: "num" }, `${bytes(g.doneSize)} / ${bytes(g.totalSize)}`),
      h("td", { "data-label": "Speed", class: "num" }, g.status === "executing" ? speed(g.speed) : "—"),
      h("td", { "data-label": "Times" }, h("span", { class: "times" }, timeCell(g.created, SHORT),
        g.finished ? h("span", { class: "muted" }, "→ ", timeCell(g.finished, SHORT)) : null)));
    row.addEventListener("click", (event) => {
      if (!event.target.closest("a")) go(link);
    });
    return row;
  }

  function objectsText(g) {
    return h("span", {}, h("span", { class: "ok" }, count(g.done + g.skipped)),
      g.failed ? [" · ", h("span", { class: "bad" }, `${count(g.failed)} failed`)] : null,
      h("span", { class: "muted" }, ` / ${count(g.total)}`));
  }

  function pagerItems(page, size, total, goto) {
    const pages = Math.max(1, Math.ceil(total / size));
    const first = total ? (page - 1) * size + 1 : 0;
    const last = Math.min(total, page * size);
    return [
      h("button", { type: "button", class: "btn small", disabled: page <= 1, onclick: () => goto(page - 1) }, "‹ Previous"),
      h("span", { class: "muted range" }, `${count(first)}–${count(last)} of ${count(total)}`),
      h("button", { type: "button", class: "btn small", disabled: page >= pages, onclick: () => goto(page + 1) }, "Next ›"),
    ];
  }

  // --- one group -----------------------------------------------------------------------------------------
  function groupView(id) {
    const mine = generation;
    const path = `/taskgroups/${encodeURIComponent(id)}`;
    let failedPage = 1;
    let taskPage = 1;
    let group = null;
    let seenTaskCount = 0;

    const notice = h("p", { class: "notice error", id: "action-error", role: "alert", hidden: true });
    const reason = h("p", { class: "notice warn", id: "group-reason", hidden: true });
    const title = h("h1", { id: "group-title" });
    const status = h("span", { id: "group-status" });
    const actions = h("div", { class: "tools", id: "group-actions" });
    const stats = h("div", { class: "stats" });
    const chart = h("div", { class: "chart", id: "chart" });
    const chartNote = h("span", { class: "muted", id: "chart-note" });
    const taskBody = h("tbody", { id: "tasks" });
    const taskHead = h("tr");
    const taskPager = h("nav", { class: "pager", "aria-label": "task pages" });
    const failedBody = h("tbody", { id: "failed" });
    const failedCount = h("span", { class: "muted", id: "failed-count" });
    const failedPager = h("nav", { class: "pager", "aria-label": "failed object pages" });
    const csv = h("button", { type: "button", class: "btn small", id: "failed-csv", onclick: () => downloadCsv() }, "Download CSV");
    let samplesData = [];

    main.replaceChildren(h("section", { class: "page" },
      h("a", { href: "#/", class: "back" }, "‹ All groups"),
      h("div", { class: "page-head" }, h("div", { class: "head-title" }, title, status), actions),
      notice, reason, stats,
      h("section", { class: "card" }, h("div", { class: "card-head" }, h("h2", {}, "Throughput"), chartNote), chart),
      h("section", { class: "card" }, h("div", { class: "card-head" }, h("h2", {}, "Tasks")),
        h("div", { class: "table-wrap" }, h("table", { class: "tasks" }, h("thead", {}, taskHead), taskBody)), taskPager),
      h("section", { class: "card" }, h("div", { class: "card-head" }, h("h2", {}, "Failed objects"), failedCount, csv),
        h("div", { class: "table-wrap" }, h("table", { class: "failed" },
          h("thead", {}, h("tr", {}, ["Key", "Reason", "Size", "Task"].map((c) => h("th", { scope: "col" }, c)))),
          failedBody)), failedPager)));

    function showError(err) {
      if (mine !== generation || err.status === 401) return;
      notice.textContent = err.message;
      notice.hidden = false;
    }

    async function act(label, method, suffix, body) {
      notice.hidden = true;
      try {
        await api(method, `${path}${suffix}`, body);
        toast(label);
        await refresh();
        return true;
      } catch (err) {
        showError(err);
        return false;
      }
    }

    function renderActions(g) {
      const canStop = g.status === "waiting" || g.status === "executing";
      actions.replaceChildren(
        h("button", { type: "button", class: "btn", id: "action-stop", disabled: !canStop,
          onclick: () => act("Stopping the group", "PUT", "/stop") }, "Stop"),
        h("button", { type: "button", class: "btn", id: "action-start", disabled: g.status !== "stopped",
          onclick: () => credentialsDialog(g, "start", refresh) }, "Start"),
        h("button", { type: "button", class: "btn primary", id: "action-retry", disabled: g.status !== "failed",
          onclick: () => credentialsDialog(g, "retry", refresh) }, "Retry"),
        h("button", { type: "button", class: "btn danger", id: "action-delete", onclick: async () => {
          if (!window.confirm("Delete this task group, its tasks and their journals? Migrated objects stay.")) return;
          notice.hidden = true;
          try {
            await api("DELETE", path);
            toast("Group deleted");
            go("#/");
          } catch (err) {
            showError(err);
          }
        } }, "Delete"));
    }

    function stat(label, value, extra, id) {
      return h("div", { class: "stat card", id }, h("div", { class: "label" }, label), h("div", { class: "value" }, value),
        extra ? h("div", { class: "extra muted" }, extra) : null);
    }

    function renderGroup(g) {
      title.textContent = g.description || "Untitled group";
      status.replaceChildren(badge(g.status), h("span", { class: "mono muted gid" }, g.id));
      document.title = `${g.description || g.id} · ferry`;
      if (g.reason) {
        reason.replaceChildren(h("strong", {}, "Why it failed: "), g.reason);
        reason.hidden = false;
      } else {
        reason.hidden = true;
      }
      const src = nodeText(g.src, "src");
      const dst = nodeText(g.dst, "dst");
      const keys = Array.isArray(g.src.object_key) ? g.src.object_key.filter((k) => k !== "") : [];
      stats.replaceChildren(
        stat("Progress", bar(g.progress, g.status), `${bytes(g.doneSize)} of ${bytes(g.totalSize)}`, "stat-progress"),
        stat("Objects", objectsText(g), g.skipped ? `${count(g.skipped)} skipped (already there)` : `${count(g.tasks ?? 0)} ${num(g.tasks) === 1 ? "task" : "tasks"}`, "stat-objects"),
        stat("Speed", g.status === "executing" ? speed(g.speed) : "—", `${bytes(g.moved)} moved in all${g.retries ? ` · ${g.retries} retries` : ""}`, "stat-speed"),
        stat("Times", h("span", {}, "Created ", timeCell(g.created)),
          h("span", {}, "Started ", timeCell(g.started), h("br"), "Finished ", timeCell(g.finished)), "stat-times"),
        stat("Source", h("span", { class: "node" }, h("span", { class: "cloud" }, src.cloud), h("span", { class: "where" }, g.src.bucket || src.where)),
          [g.src.endpoint || g.src.region || "", keys.length ? [h("br"), `${g.taskType === "PREFIX" ? "prefixes" : "keys"}: ${keys.join(", ")}`] : null], "stat-source"),
        stat("Destination", h("span", { class: "node" }, h("span", { class: "cloud" }, dst.cloud), h("span", { class: "where" }, dst.where)),
          g.dst.endpoint || g.dst.region || "", "stat-destination"));
      renderActions(g);
    }

    function renderTasks(data) {
      const tasks = (data.tasks || []).map(taskOf);
      const total = num(data.count);
      seenTaskCount = total;
      const withWorker = tasks.some((t) => t.worker !== null && t.worker !== undefined);
      const cols = ["Task", "Status", "Progress", "Objects", "Data", "Speed"];
      if (withWorker) cols.push("Worker");
      cols.push("Reason");
      taskHead.replaceChildren(...cols.map((c) => h("th", { scope: "col" }, c)));
      if (!tasks.length) {
        taskBody.replaceChildren(h("tr", { class: "empty" }, h("td", { colspan: String(cols.length) }, "No tasks.")));
      } else {
        taskBody.replaceChildren(...tasks.map((t) => h("tr", { "data-task": t.id },
          h("td", { "data-label": "Task", class: "key" }, t.name),
          h("td", { "data-label": "Status" }, badge(t.status)),
          h("td", { "data-label": "Progress" }, bar(t.progress, t.status)),
          h("td", { "data-label": "Objects", class: "num" }, objectsText(t)),
          h("td", { "data-label": "Data", class: "num" }, `${bytes(t.doneSize)} / ${bytes(t.totalSize)}`),
          h("td", { "data-label": "Speed", class: "num" }, t.status === "executing" ? speed(t.speed) : "—"),
          withWorker ? h("td", { "data-label": "Worker" }, String(t.worker)) : null,
          h("td", { "data-label": "Reason", class: "reason" }, t.reason || "—"))));
      }
      taskPager.hidden = total <= TASK_PAGE;
      taskPager.replaceChildren(...pagerItems(taskPage, TASK_PAGE, total, (p) => { taskPage = p; refresh().catch(() => {}); }));
    }

    function renderFailed(data) {
      const objects = data.objects || data.failed_objects || [];
      const total = num(data.count);
      failedCount.textContent = total ? `${count(total)} failed` : "none";
      csv.disabled = !total;
      if (!objects.length) {
        failedBody.replaceChildren(h("tr", { class: "empty" }, h("td", { colspan: "4" }, "No failed objects.")));
      } else {
        failedBody.replaceChildren(...objects.map((o) => h("tr", {},
          h("td", { "data-label": "Key", class: "key" }, String(o.key ?? o.object_key ?? "")),
          h("td", { "data-label": "Reason", class: "reason" }, reasonText(o.reason ?? o.error_reason) || "—"),
          h("td", { "data-label": "Size", class: "num" }, bytes(o.size)),
          h("td", { "data-label": "Task", class: "mono muted" }, String(o.task_id ?? "").slice(0, 8)))));
      }
      failedPager.hidden = total <= FAILED_PAGE;
      failedPager.replaceChildren(...pagerItems(failedPage, FAILED_PAGE, total, (p) => { failedPage = p; refresh().catch(() => {}); }));
    }

    async function downloadCsv() {
      notice.hidden = true;
      try {
        const response = await fetch(`/v2/${encodeURIComponent(session.project)}${path}/failed-objects.csv`,
          { headers: { "X-Auth-Token": session.token }, cache: "no-store", credentials: "omit" });
        if (!response.ok) {
          let message = `HTTP ${response.status}`;
          try { message = (await response.json()).error_msg || message; } catch (err) { /* not JSON */ }
          throw new ApiError(message, "", response.status);
        }
        const blob = await response.blob();
        const url = URL.createObjectURL(blob);
        const a = h("a", { href: url, download: `failed-objects-${id.slice(0, 36)}.csv` });
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      } catch (err) {
        showError(err);
      }
    }

    async function refresh() {
      let data;
      try {
        data = await api("GET", path);
      } catch (err) {
        if (mine !== generation) return;
        if (!group) {
          title.textContent = "Task group";
          actions.replaceChildren();
        }
        showError(err);
        throw err;
      }
      if (mine !== generation) return;
      group = groupOf(data);
      renderGroup(group);
      const [tasks, failed, samples] = await Promise.all([
        api("GET", `/tasks${query({ group_id: id, limit: TASK_PAGE, offset: (taskPage - 1) * TASK_PAGE })}`).catch((e) => e),
        api("GET", `${path}/failed-objects${query({ limit: FAILED_PAGE, offset: (failedPage - 1) * FAILED_PAGE })}`).catch((e) => e),
        api("GET", `${path}/samples`).catch((e) => e),
      ]);
      if (mine !== generation) return;
      if (!(tasks instanceof Error)) renderTasks(tasks);
      if (!(failed instanceof Error)) renderFailed(failed);
      if (!(samples instanceof Error)) {
        samplesData = samples.samples || [];
        drawChart(chart, chartNote, samplesData, group);
      }
    }

    window.addEventListener("resize", () => {
      if (mine === generation && group) drawChart(chart, chartNote, samplesData, group);
    });
    return { refresh, get taskCount() { return seenTaskCount; } };
  }

  // --- the throughput chart (SVG, no library) ------------------------------------------------------------
  function niceMax(value) {
    if (value <= 0) return 1024;
    const power = 1024 ** Math.floor(Math.log(value) / Math.log(1024));
    const scaled = value / power;
    const step = [1, 2, 4, 5, 8, 10, 16, 20, 25, 32, 40, 50, 64, 80, 100, 128, 200, 256, 400, 512, 800, 1024]
      .find((n) => n >= scaled) || 1024;
    return step * power;
  }

  function drawChart(el, note, samples, group) {
    const points = samples.map((p) => ({ t: when(p.time), v: num(p.speed), b: num(p.transferred_size) }))
      .filter((p) => p.t);
    if (points.length < 2) {
      el.replaceChildren(h("p", { class: "muted empty-chart" }, group.status === "waiting" ? "Waiting to start." : "No data moved yet."));
      note.textContent = "";
      return;
    }
    const width = Math.max(280, Math.floor(el.clientWidth || 800));
    const height = width < 500 ? 170 : 220;
    const pad = { l: 64, r: 12, t: 12, b: 26 };
    const t0 = points[0].t.getTime();
    const t1 = points[points.length - 1].t.getTime();
    const span = Math.max(1, t1 - t0);
    const peak = Math.max(...points.map((p) => p.v));
    const top = niceMax(peak);
    const x = (t) => pad.l + ((t - t0) / span) * (width - pad.l - pad.r);
    const y = (v) => pad.t + (1 - v / top) * (height - pad.t - pad.b);
    // Each sample's speed is the average since the sample before it: drawn as a step over that interval.
    let line = `M${x(t0).toFixed(1)},${y(0).toFixed(1)}`;
    for (let i = 1; i < points.length; i += 1) {
      const yy = y(points[i].v).toFixed(1);
      line += ` L${x(points[i - 1].t.getTime()).toFixed(1)},${yy} L${x(points[i].t.getTime()).toFixed(1)},${yy}`;
    }
    const area = `${line} L${x(t1).toFixed(1)},${y(0).toFixed(1)} Z`;
    const grid = [];
    for (const f of [0, 0.25, 0.5, 0.75, 1]) {
      const yy = y(top * f);
      grid.push(s("line", { x1: pad.l, x2: width - pad.r, y1: yy, y2: yy, class: f === 0 ? "axis" : "grid" }));
      if (f === 0 || f === 0.5 || f === 1) {
        grid.push(s("text", { x: pad.l - 6, y: yy + 4, "text-anchor": "end", class: "tick" }, speed(top * f)));
      }
    }
    const ticks = width < 500 ? 3 : 5;
    const long = span > 20 * 3600 * 1000;
    const short = span < 20 * 60 * 1000;
    for (let i = 0; i < ticks; i += 1) {
      const t = t0 + (span * i) / (ticks - 1);
      const date = new Date(t);
      const anchor = i === 0 ? "start" : i === ticks - 1 ? "end" : "middle";
      grid.push(s("text", { x: x(t), y: height - 8, "text-anchor": anchor, class: "tick" },
        long ? `${DAY.format(date)} ${CLOCK.format(date)}` : (short ? SECONDS : CLOCK).format(date)));
    }
    const svg = s("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
      "aria-label": `Throughput over the run, peak ${speed(peak)}` },
    s("defs", {}, s("linearGradient", { id: "fillgrad", x1: "0", x2: "0", y1: "0", y2: "1" },
      s("stop", { offset: "0%", class: "grad-top" }), s("stop", { offset: "100%", class: "grad-bottom" }))),
    grid,
    s("path", { d: area, class: "area", fill: "url(#fillgrad)" }),
    s("path", { d: line, class: "line" }));
    el.replaceChildren(svg);
    const moved = points[points.length - 1].b - points[0].b;
    note.textContent = `peak ${speed(peak)} · average ${speed((moved * 1000) / span)} · ${points.length} samples`;
  }

  // --- dialogs: credentials for start and retry, and a new group -----------------------------------------
  const SECRET_FIELDS = {
    src: {
      Azure: [["connection_string", "Connection string", "textarea"]],
      Google: [["json_auth_file", "Service-account JSON key", "textarea"]],
      URLSource: [["source_cdn_authentication_key", "CDN authentication key", "password"]],
      default: [["src_ak", "Access key", "text"], ["src_sk", "Secret key", "password"]],
    },
    dst: {
      Azure: [["dst_connection_string", "Connection string", "textarea"]],
      Google: [["dst_json_auth_file", "Service-account JSON key", "textarea"]],
      default: [["dst_ak", "Access key", "text"], ["dst_sk", "Secret key", "password"]],
    },
  };

  function field(name, label, kind, extra) {
    const id = `f-${name}`;
    const input = kind === "textarea"
      ? h("textarea", { name, id, rows: "3", spellcheck: "false", ...extra })
      : kind === "select"
        ? h("select", { name, id }, (extra.options || []).map((o) => h("option", { value: o, selected: o === extra.value }, o)))
        : h("input", { type: kind, name, id, autocomplete: "off", spellcheck: "false", ...extra });
    return h("div", { class: "field" }, h("label", { for: id }, label), input);
  }

  function dialog(titleText, content, submitLabel, onSubmit) {
    const error = h("p", { class: "form-error", role: "alert", hidden: true });
    const submit = h("button", { type: "submit", class: "btn primary" }, submitLabel);
    const cancel = h("button", { type: "button", class: "btn ghost" }, "Cancel");
    const form = h("form", { method: "dialog", class: "dialog-form" }, h("h2", {}, titleText), content, error,
      h("div", { class: "actions" }, cancel, submit));
    const dlg = h("dialog", { class: "dialog" }, form);
    cancel.addEventListener("click", () => dlg.close());
    dlg.addEventListener("close", () => dlg.remove());
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      submit.disabled = true;
      error.hidden = true;
      try {
        await onSubmit(new FormData(form));
        dlg.close();
      } catch (err) {
        if (err.status !== 401) {
          error.textContent = err.message;
          error.hidden = false;
        } else {
          dlg.close();
        }
      } finally {
        submit.disabled = false;
      }
    });
    document.body.append(dlg);
    dlg.showModal();
    return dlg;
  }

  function credentialsDialog(g, kind, refresh) {
    const src = SECRET_FIELDS.src[g.src.cloud_type] || SECRET_FIELDS.src.default;
    const dst = SECRET_FIELDS.dst[g.dst.cloud_type] || SECRET_FIELDS.dst.default;
    const names = [...src, ...dst].map(([name]) => name);
    const content = [
      kind === "retry" ? h("fieldset", { class: "choice" }, h("legend", {}, "What to migrate again"),
        h("label", {}, h("input", { type: "radio", name: "mode", value: "failed", checked: true }), " Failed objects only"),
        h("label", {}, h("input", { type: "radio", name: "mode", value: "all" }), " All objects (those already migrated are skipped)"))
        : null,
      h("p", { class: "muted" }, "The service forgets keys when it restarts. Leave a field empty to keep the key it holds."),
      h("fieldset", {}, h("legend", {}, `Source · ${g.src.cloud_type || ""}`), src.map(([n, l, k]) => field(n, l, k))),
      h("fieldset", {}, h("legend", {}, `Destination · ${g.dst.cloud_type || ""}`), dst.map(([n, l, k]) => field(n, l, k))),
    ];
    dialog(kind === "retry" ? "Retry the group" : "Start the group", content, kind === "retry" ? "Retry" : "Start",
      async (form) => {
        const body = {};
        for (const name of names) {
          const value = String(form.get(name) || "");
          if (value.trim()) body[name] = name.endsWith("json_auth_file") || name.endsWith("connection_string") ? value.trim() : value;
        }
        if (kind === "retry") body.migrate_failed_object = form.get("mode") === "failed";
        await api("PUT", `/taskgroups/${encodeURIComponent(g.id)}/${kind}`, body);
        toast(kind === "retry" ? "Retry started" : "Group started");
        refresh().catch(() => {});
      });
  }

  const CLOUDS = ["Ceph", "AWS", "HuaweiCloud", "Aliyun", "Tencent", "MinIO", "S3", "Azure", "Google"];

  function createDialog() {
    const side = (prefix, legend, extra) => h("fieldset", {}, h("legend", {}, legend),
      h("div", { class: "grid2" },
        field(`${prefix}_cloud_type`, "Cloud", "select", { options: CLOUDS, value: "Ceph" }),
        field(`${prefix}_bucket`, "Bucket", "text", { required: true }),
        field(`${prefix}_endpoint`, "Endpoint URL", "url", {}),
        field(`${prefix}_region`, "Region", "text", {}),
        field(`${prefix}_ak`, "Access key", "text", {}),
        field(`${prefix}_sk`, "Secret key", "password", {})),
      h("p", { class: "muted small" }, "Azure: give the connection string as the secret key; Google: the JSON key file's content."),
      extra);
    const content = [
      field("description", "Description", "text", { maxlength: "255" }),
      side("src", "Source", [field("task_type", "What to migrate", "select", { options: ["PREFIX", "LIST"], value: "PREFIX" }),
        field("object_key", "Prefixes (PREFIX) or object keys (LIST), one a line; none: the whole bucket", "textarea", {})]),
      side("dst", "Destination", field("save_prefix", "Save under prefix", "text", {})),
    ];
    dialog("New task group", content, "Create and start", async (form) => {
      const get = (name) => String(form.get(name) || "").trim();
      const node = (prefix) => {
        const cloud = get(`${prefix}_cloud_type`);
        const out = { cloud_type: cloud, bucket: get(`${prefix}_bucket`) };
        if (get(`${prefix}_endpoint`)) out.endpoint = get(`${prefix}_endpoint`);
        if (get(`${prefix}_region`)) out.region = get(`${prefix}_region`);
        const secret = String(form.get(`${prefix}_sk`) || "");
        if (cloud === "Azure") out.connection_string = secret.trim();
        else if (cloud === "Google") out.json_auth_file = secret.trim();
        else {
          out.ak = get(`${prefix}_ak`);
          out.sk = secret;
        }
        return out;
      };
      const src = node("src");
      src.object_key = String(form.get("object_key") || "").split("\n").map((k) => k.replace(/\r$/, "")).filter((k) => k !== "");
      const dst = node("dst");
      dst.save_prefix = get("save_prefix");
      const body = { src_node: src, dst_node: dst, task_type: get("task_type") || "PREFIX" };
      if (get("description")) body.description = get("description");
      const data = await api("POST", "/taskgroups", body);
      const id = data && (data.group_id ?? data.id);
      toast("Group created");
      if (id !== undefined && id !== null) go(`#/groups/${encodeURIComponent(String(id))}`);
      else route();
    });
  }

  // --- start ---------------------------------------------------------------------------------------------
  document.getElementById("logout").addEventListener("click", () => {
    session.clear();
    location.hash = "#/";
    showLogin("Signed out.");
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && view) tick();
  });
  window.addEventListener("hashchange", route);
  route();
})();

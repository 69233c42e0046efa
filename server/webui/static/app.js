// ggufd's test page: lists the models, chats with streaming, stops a reply,
// and shows what each reply used and cost. It talks only to the origin that
// served it. The key lives in `state` and, only if the user ticks "keep for
// this tab", in sessionStorage; never in a cookie or localStorage.

const $ = (id) => document.getElementById(id);

const state = {
  strings: null, // i18n.json
  lang: "en",
  key: "",
  openid: "",
  userid: "",
  models: [],
  selected: "",
  messages: [], // the conversation as sent to the model (without the system prompt)
  attachments: [], // data: URLs of images waiting to be sent
  running: null, // the reply being streamed
  replies: [], // every reply's view and figures, re-rendered on a language switch
  account: null, // /api_user/info?type=json
  modelTimer: 0,
};

// Image types mtmd decodes; others are refused before upload.
const IMAGE_TYPES = ["image/png", "image/jpeg", "image/webp", "image/gif"];

// How long a stream may keep running after the suspend call answered before
// the page closes the connection itself: the server normally ends a
// suspended stream at its next token with the usage chunk, which we want.
const STOP_GRACE_MS = 2000;

// ---------- languages ----------

function pickLang() {
  const saved = localStorage.getItem("ggufd.lang");
  if (saved && state.strings[saved]) return saved;
  for (const l of navigator.languages || [navigator.language || ""]) {
    const tag = l.toLowerCase();
    if (tag.startsWith("zh")) return "zh";
    if (tag.startsWith("en")) return "en";
  }
  return "en";
}

function t(key, vars = {}) {
  const s = state.strings[state.lang][key] ?? state.strings.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (vars[k] ?? "").toString());
}

function applyLang() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  document.title = `ggufd · ${t("title")}`;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of document.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  $("attach").title = t("attach_title");
  for (const b of document.querySelectorAll(".lang-switch [data-lang]")) {
    b.setAttribute("aria-current", String(b.dataset.lang === state.lang));
  }
  renderModels();
  renderBalance();
  renderCurrentModel();
  for (const r of state.replies) renderStats(r);
  if ($("account").open) renderAccount();
}

function setLang(lang) {
  state.lang = lang;
  localStorage.setItem("ggufd.lang", lang); // a preference, not a secret
  applyLang();
}

// ---------- credentials ----------

function randomUserID() {
  const b = new Uint8Array(6);
  crypto.getRandomValues(b);
  return "web-" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function loadCreds() {
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem("ggufd.creds") || "null");
  } catch {
    saved = null;
  }
  if (saved) {
    state.key = saved.key || "";
    state.openid = saved.openid || "";
    state.userid = saved.userid || "";
    $("remember").checked = true;
  }
  state.userid ||= randomUserID();
  $("key").value = state.key;
  $("openid").value = state.openid;
  $("userid").value = state.userid;
  $("openid-mode").open = state.openid !== "";
}

function readCreds() {
  state.key = $("key").value.trim();
  state.openid = $("openid").value.trim();
  state.userid = $("userid").value.trim() || randomUserID();
  $("userid").value = state.userid;
  if ($("remember").checked) {
    sessionStorage.setItem("ggufd.creds", JSON.stringify({ key: state.key, openid: state.openid, userid: state.userid }));
  } else {
    sessionStorage.removeItem("ggufd.creds");
  }
}

function authHeaders() {
  return state.key ? { Authorization: `Bearer ${state.key}` } : {};
}

// v1 is an API path: /v1/… or, in openid mode, the provider's
// /llm_api/{openid}/{userid}//v1/… form (empty AI_system: the body's model).
function v1(path) {
  if (!state.openid) return `/v1/${path}`;
  const e = encodeURIComponent;
  return `/llm_api/${e(state.openid)}/${e(state.userid)}//v1/${path}`;
}

class APIError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function errorOf(resp) {
  let msg = `${resp.status} ${resp.statusText}`;
  let code = "";
  try {
    const body = await resp.json();
    if (body?.error?.message) msg = body.error.message;
    code = body?.error?.code || "";
  } catch {
    // not JSON: keep the status line
  }
  return new APIError(resp.status, msg, code);
}

async function getJSON(url) {
  const resp = await fetch(url, { headers: authHeaders(), cache: "no-store" });
  if (!resp.ok) throw await errorOf(resp);
  return resp.json();
}

// ---------- money ----------

const micros = (v) => Math.round((Number(v) || 0) * 1e6);
const roundDiv = (n, d) => (n < 0 ? -Math.floor((-n + d / 2) / d) : Math.floor((n + d / 2) / d));

function formatMicros(m) {
  const neg = m < 0;
  const a = Math.abs(m);
  let s = String(Math.floor(a / 1e6));
  const frac = a % 1e6;
  if (frac) s += "." + String(frac).padStart(6, "0").replace(/0+$/, "");
  return neg ? "-" + s : s;
}

// replyCost prices a reply as the server bills it (accounts.Pricing.Cost):
// token terms summed before one division by 1000, half rounded up. Per-second
// prices bill processing time, which only the server measures; the page
// uses the reply's wall time and marks the figure as an estimate.
function replyCost(pricing, usage, seconds) {
  if (!pricing || !usage) return null;
  const inP = micros(pricing.input_per_1k);
  const cachedP = pricing.cached_input_per_1k ? micros(pricing.cached_input_per_1k) : inP;
  const prompt = usage.prompt_tokens || 0;
  const cached = Math.min(Math.max(usage.prompt_tokens_details?.cached_tokens || 0, 0), prompt);
  const tokenMicros = (prompt - cached) * inP + cached * cachedP + (usage.completion_tokens || 0) * micros(pricing.output_per_1k);
  let cost = roundDiv(tokenMicros, 1000);
  let estimate = false;
  if (pricing.per_second) {
    const capped = Math.min(seconds, pricing.max_seconds || 600);
    cost += Math.round(micros(pricing.per_second) * capped);
    estimate = true;
  }
  return { micros: cost, estimate, currency: pricing.currency || "" };
}

// ---------- models ----------

// isVision reads the vision mark of a /v1/models entry. ggufd marks vision
// models with "vision": true; the other common spellings are accepted too.
function isVision(m) {
  if (!m) return false;
  const caps = m.capabilities;
  return m.vision === true || caps?.vision === true || (Array.isArray(caps) && caps.includes("vision"));
}

const selectedModel = () => state.models.find((m) => m.id === state.selected);

function priceText(p) {
  if (!p) return t("free");
  const parts = [];
  if (p.input_per_1k || p.output_per_1k) {
    parts.push(t("price_tokens", { in: p.input_per_1k || 0, out: p.output_per_1k || 0, currency: p.currency || "" }));
  }
  if (p.per_second) parts.push(t("price_second", { p: p.per_second, currency: p.currency || "" }));
  return parts.join(" + ") || t("free");
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

function renderModels() {
  const list = $("models");
  list.replaceChildren();
  for (const m of state.models) {
    const chat = m.type !== "embeddings";
    const status = m.status || "unloaded";
    let statusText = t("status_" + status);
    if (status === "loading" && typeof m.progress === "number") statusText += ` ${Math.round(m.progress * 100)}%`;
    const badge = el("span", { class: `badge ${status}`, text: statusText });
    if (m.status_error) badge.title = m.status_error;
    const row = el("div", { class: "row" }, badge);
    if (isVision(m)) row.append(el("span", { class: "badge vision", text: t("vision") }));
    if (!chat) row.append(el("span", { class: "badge", text: t("embeddings") }));
    if (m.context_length) row.append(el("span", { text: t("context", { n: m.context_length }) }));
    row.append(el("span", { class: "price", text: priceText(m.pricing) }));
    const li = el(
      "li",
      { class: "model", role: "option", "data-model": m.id, "data-status": status, "aria-selected": String(m.id === state.selected) },
      el("div", { class: "name", text: m.display_name && m.display_name !== m.id ? `${m.display_name} (${m.id})` : m.id }),
      row,
      m.description ? el("div", { class: "desc", text: m.description }) : null,
    );
    if (chat) {
      li.tabIndex = 0;
      li.addEventListener("click", () => selectModel(m.id));
      li.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" || ev.key === " ") {
          ev.preventDefault();
          selectModel(m.id);
        }
      });
    } else {
      li.setAttribute("aria-disabled", "true");
    }
    list.append(li);
  }
  if (!state.models.length && !$("models-msg").textContent) $("models-msg").textContent = t("no_models");
}

function selectModel(id) {
  state.selected = id;
  sessionStorage.setItem("ggufd.model", id);
  renderModels();
  renderCurrentModel();
  $("panel").classList.remove("open");
  $("panel-toggle").setAttribute("aria-expanded", "false");
}

function renderCurrentModel() {
  const m = selectedModel();
  $("current-model").textContent = m ? t("current_model", { model: m.id }) : "";
  const vision = isVision(m);
  $("attach").hidden = !vision;
  if (!vision && state.attachments.length) {
    state.attachments = [];
    renderAttachments();
  }
}

async function refreshModels() {
  clearTimeout(state.modelTimer);
  if (document.hidden) return; // visibilitychange refreshes when the tab is back
  const msg = $("models-msg");
  try {
    const list = await getJSON(v1("models"));
    state.models = list.data || [];
    msg.textContent = "";
    msg.classList.remove("error");
    if (!selectedModel()) {
      const saved = sessionStorage.getItem("ggufd.model");
      const chat = state.models.filter((m) => m.type !== "embeddings");
      state.selected = (chat.find((m) => m.id === saved) || chat[0] || {}).id || "";
    }
  } catch (e) {
    state.models = [];
    msg.textContent = e.status === 401 ? t("need_key") : t("models_error", { error: e.message });
    msg.classList.add("error");
  }
  renderModels();
  renderCurrentModel();
  // Poll while a model loads so its progress moves; slowly otherwise.
  const loading = state.models.some((m) => m.status === "loading");
  state.modelTimer = setTimeout(refreshModels, loading ? 1000 : 15000);
}

// ---------- balance and account ----------

async function refreshBalance() {
  const q = new URLSearchParams({ type: "json" });
  if (state.openid) q.set("openid", state.openid);
  try {
    state.account = await getJSON(`/api_user/info?${q}`);
  } catch (e) {
    // 404: accounts are off on this server; 401: no key yet.
    state.account = e.status === 401 || e.status === 403 ? "needs-key" : null;
  }
  renderBalance();
}

function renderBalance() {
  const chip = $("balance");
  const a = state.account;
  chip.hidden = !a;
  if (!a) return;
  chip.textContent = a === "needs-key" ? t("balance_needs_key") : t("balance_chip", { amount: a.balance, currency: a.currency });
  chip.disabled = a === "needs-key";
}

// renderAccount fills the account dialog with the same figures, in the same
// layout, as the /api_user/info HTML page.
function renderAccount() {
  const a = state.account;
  const body = $("account-body");
  body.replaceChildren();
  if (!a || a === "needs-key") return;
  const cur = a.currency || "";
  const money = (v) => `${v} ${cur}`;
  const limit = (v) => (v ? String(v) : t("unlimited"));
  const facts = (rows) => {
    const dl = el("dl", { class: "facts" });
    for (const [k, v] of rows) dl.append(el("dt", { text: k }), el("dd", { text: v }));
    return dl;
  };
  const rows = [
    [t("balance"), money(a.balance)],
    [t("available"), money(a.available)],
    [t("reserved"), money(a.reserved)],
    [t("total_spent"), money(a.total_spent)],
    [t("total_top_up"), money(a.total_top_up)],
    [t("running"), String(a.running)],
  ];
  if (a.unmetered) rows.push([t("unmetered"), t("yes")]);
  body.append(
    el("section", { class: "card" }, el("h2", { text: t("account_title", { openid: a.openid }) + (a.name ? ` (${a.name})` : "") }), facts(rows)),
    el(
      "section",
      { class: "card" },
      el("h2", { text: t("limits") }),
      facts([
        [t("requests_per_minute"), limit(a.limits?.requests_per_minute)],
        [t("tokens_per_minute"), limit(a.limits?.tokens_per_minute)],
        [t("max_concurrent"), limit(a.limits?.max_concurrent)],
      ]),
    ),
  );
  const usage = el("section", { class: "card" }, el("h2", { text: t("usage_by_model") }));
  if (a.usage?.length) {
    const head = ["model", "requests", "prompt", "cached", "completion", "seconds"].map((k) => el("th", { text: t(k) }));
    head.push(el("th", { text: t("cost_column", { currency: cur }) }));
    const table = el("table", { class: "data" }, el("tr", {}, ...head));
    for (const u of a.usage) {
      const cells = [u.model, u.requests, u.prompt_tokens, u.cached_tokens, u.completion_tokens, Number(u.seconds).toFixed(1), u.cost];
      table.append(el("tr", {}, ...cells.map((c) => el("td", { text: String(c) }))));
    }
    usage.append(el("div", { class: "table-scroll" }, table));
  } else {
    usage.append(el("p", { class: "hint", text: t("no_usage") }));
  }
  body.append(usage);
}

// ---------- images ----------

function readAsDataURL(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(r.result);
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}

async function addImages(files) {
  if (!isVision(selectedModel())) {
    flash(t("no_vision"));
    return;
  }
  for (const f of files) {
    if (!IMAGE_TYPES.includes(f.type)) {
      flash(t("not_an_image", { name: f.name || f.type }));
      continue;
    }
    state.attachments.push(await readAsDataURL(f));
  }
  renderAttachments();
}

function renderAttachments() {
  const box = $("attachments");
  box.replaceChildren();
  state.attachments.forEach((url, i) => {
    const rm = el("button", { type: "button", "aria-label": t("remove"), title: t("remove"), text: "✕" });
    rm.addEventListener("click", () => {
      state.attachments.splice(i, 1);
      renderAttachments();
    });
    box.append(el("figure", {}, el("img", { src: url, alt: "" }), rm));
  });
  box.hidden = state.attachments.length === 0;
}

// ---------- chat ----------

function flash(text) {
  const view = el("div", { class: "msg assistant" }, el("div", { class: "stats" }, el("span", { class: "error", text })));
  addView(view);
}

function addView(view) {
  $("empty").hidden = true;
  const tr = $("transcript");
  tr.append(view);
  tr.scrollTop = tr.scrollHeight;
}

function numberParam(id) {
  const v = $(id).value.trim();
  return v === "" ? undefined : Number(v);
}

function extraParams() {
  const s = $("extra").value.trim();
  if (!s) return {};
  const v = JSON.parse(s);
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("{…}");
  return v;
}

async function send(ev) {
  ev.preventDefault();
  if (state.running) return;
  readCreds();
  const model = selectedModel();
  if (!model) {
    flash(t("pick_model"));
    return;
  }
  const text = $("input").value.trim();
  if (!text && !state.attachments.length) return;
  let extra;
  try {
    extra = extraParams();
  } catch (e) {
    flash(t("invalid_extra", { error: e.message }));
    return;
  }
  const images = state.attachments;
  const content = images.length
    ? [{ type: "text", text }, ...images.map((url) => ({ type: "image_url", image_url: { url } }))]
    : text;
  state.messages.push({ role: "user", content });
  const userView = el("div", { class: "msg user" });
  if (images.length) userView.append(el("div", { class: "images" }, ...images.map((url) => el("img", { src: url, alt: "" }))));
  userView.append(el("div", { class: "text", text }));
  addView(userView);
  $("input").value = "";
  state.attachments = [];
  renderAttachments();

  const system = $("system").value.trim();
  const body = {
    temperature: numberParam("temperature"),
    top_p: numberParam("top_p"),
    max_tokens: numberParam("max_tokens"),
    ...extra,
    model: model.id,
    messages: system ? [{ role: "system", content: system }, ...state.messages] : [...state.messages],
    stream: true,
    stream_options: { include_usage: true },
    user: state.userid, // the suspend endpoint stops this tab's generations by it
  };
  await streamReply(body, model, text);
}

async function streamReply(body, model, text) {
  const textNode = document.createTextNode("");
  const view = el("div", { class: "msg assistant streaming", "data-model": model.id }, el("div", { class: "text" }, textNode), el("div", { class: "stats" }));
  addView(view);
  const run = {
    view, textNode, model, ctrl: new AbortController(), t0: performance.now(), tFirst: 0, tEnd: 0,
    chunks: 0, usage: null, finish: "", requestId: "", error: "", loading: "", stopped: false, aborted: false,
  };
  state.running = run;
  state.replies.push(run);
  setRunning(true);
  renderStats(run);
  refreshSoon(); // the model may start loading now
  try {
    const resp = await fetch(v1("chat/completions"), {
      method: "POST",
      headers: { ...authHeaders(), "Content-Type": "application/json" },
      body: JSON.stringify(body),
      signal: run.ctrl.signal,
    });
    run.requestId = resp.headers.get("X-Request-Id") || "";
    if (!resp.ok) throw await errorOf(resp);
    await readSSE(resp.body, (data) => onChunk(run, data), (comment) => onComment(run, comment));
  } catch (e) {
    if (e.name === "AbortError") run.aborted = true;
    else run.error = e.message;
  }
  run.tEnd = performance.now();
  state.running = null;
  setRunning(false);
  view.classList.remove("streaming");
  const reply = textNode.data;
  if (reply || run.usage) {
    state.messages.push({ role: "assistant", content: reply });
  } else {
    // Nothing came back: take the question out of the conversation so a
    // retry does not send it twice, and give it back for editing.
    state.messages.pop();
    if (!$("input").value) $("input").value = text;
  }
  renderStats(run);
  refreshBalance();
  refreshModels();
}

let refreshTimer = 0;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refreshModels, 300);
}

// readSSE reads a text/event-stream body: data events go to onData as parsed
// JSON until [DONE]; comments (heartbeats) go to onComment.
async function readSSE(stream, onData, onComment) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) onComment(line.slice(1).trim());
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (!data.length) continue;
      const payload = data.join("\n");
      if (payload === "[DONE]") {
        reader.cancel().catch(() => {});
        return;
      }
      onData(JSON.parse(payload));
    }
  }
}

function onChunk(run, data) {
  if (data.error) {
    run.error = data.error.message || JSON.stringify(data.error);
    return;
  }
  if (data.usage) run.usage = data.usage;
  const choice = data.choices?.[0];
  if (!choice) return;
  const delta = choice.delta?.content;
  if (delta) {
    if (!run.tFirst) {
      run.tFirst = performance.now();
      run.loading = "";
    }
    run.chunks++;
    const tr = $("transcript");
    const atBottom = tr.scrollHeight - tr.scrollTop - tr.clientHeight < 40;
    run.textNode.appendData(delta);
    if (atBottom) tr.scrollTop = tr.scrollHeight;
  }
  if (choice.finish_reason) run.finish = choice.finish_reason;
  renderStats(run);
}

function onComment(run, comment) {
  if (comment.startsWith("loading")) {
    run.loading = comment.slice("loading".length).trim();
    renderStats(run);
  }
}

// renderStats writes a reply's figures: tokens, speed, time to first token,
// cost, finish reason. The same figures go into data-* attributes for tools.
function renderStats(run) {
  const stats = run.view.querySelector(".stats");
  const parts = [];
  const ds = run.view.dataset;
  if (run.loading && !run.tFirst) parts.push(t("model_loading", { progress: run.loading }));
  const u = run.usage;
  if (u) {
    parts.push(t("completion_tokens", { n: u.completion_tokens }));
    parts.push(t("prompt_tokens", { n: u.prompt_tokens }));
    ds.promptTokens = u.prompt_tokens;
    ds.completionTokens = u.completion_tokens;
  }
  if (run.tFirst) {
    const ttft = Math.round(run.tFirst - run.t0);
    parts.push(t("ttft", { ms: ttft }));
    ds.ttftMs = ttft;
    const end = run.tEnd || performance.now();
    const n = u ? u.completion_tokens : run.chunks;
    if (end > run.tFirst && n > 1) {
      // Tokens after the first, over the time after the first: the decode
      // speed, not diluted by prompt processing.
      const tps = ((n - 1) * 1000) / (end - run.tFirst);
      parts.push(t("tokens_per_second", { v: tps.toFixed(1) }));
      ds.tokensPerSecond = tps.toFixed(2);
    }
  }
  if (u && run.tEnd) {
    const cost = replyCost(run.model.pricing, u, (run.tEnd - run.t0) / 1000);
    if (cost) {
      parts.push(t(cost.estimate ? "cost_estimate" : "cost", { cost: formatMicros(cost.micros), currency: cost.currency }));
      ds.costMicros = cost.micros;
    }
  }
  if (run.finish) {
    parts.push(t("finish", { reason: run.stopped && run.finish === "stop" ? t("stopped") : run.finish }));
    ds.finish = run.finish;
  } else if (run.aborted) {
    parts.push(t("aborted"));
    ds.finish = "aborted";
  }
  if (run.tEnd) ds.done = "true";
  if (run.requestId && run.tEnd) {
    parts.push(t("request_id", { id: run.requestId }));
    ds.requestId = run.requestId;
  }
  // Spaces between the spans keep the figures apart for screen readers and
  // copy-paste; the flex layout spaces them on screen.
  stats.replaceChildren(...parts.flatMap((p, i) => (i ? [" ", el("span", { text: p })] : [el("span", { text: p })])));
  if (run.error) {
    stats.append(" ", el("span", { class: "error", text: t("error", { message: run.error }) }));
    ds.error = run.error;
  }
}

function setRunning(on) {
  $("send").hidden = on;
  $("stop").hidden = !on;
  $("stop").disabled = false;
  $("clear").disabled = on;
}

// stop asks the server to suspend this tab's generations (it ends the stream
// with finish_reason "stop" and bills what was done) and closes the
// connection if the stream has not ended soon after.
async function stop() {
  const run = state.running;
  if (!run || run.stopped) return;
  run.stopped = true;
  $("stop").disabled = true;
  const q = new URLSearchParams({ userid: state.userid });
  if (state.openid) q.set("openid", state.openid);
  let ok = false;
  try {
    const resp = await fetch(`/llm_api/suspend_current_generate?${q}`, { method: "POST", headers: authHeaders() });
    ok = resp.ok;
  } catch {
    ok = false;
  }
  if (!ok) {
    run.ctrl.abort();
    return;
  }
  setTimeout(() => {
    if (state.running === run) run.ctrl.abort();
  }, STOP_GRACE_MS);
}

function clearChat() {
  if (state.running) return;
  state.messages = [];
  state.replies = [];
  const tr = $("transcript");
  tr.replaceChildren($("empty"));
  $("empty").hidden = false;
}

// ---------- wiring ----------

// connect reads the key and user fields and lists the models and balance
// they give; it settles once both have answered, shown or failed.
function connect() {
  readCreds();
  return Promise.allSettled([refreshModels(), refreshBalance()]);
}

async function main() {
  state.strings = await (await fetch("/webui/i18n.json")).json();
  state.lang = pickLang();
  loadCreds();
  applyLang();

  for (const b of document.querySelectorAll(".lang-switch [data-lang]")) b.addEventListener("click", () => setLang(b.dataset.lang));
  $("composer").addEventListener("submit", send);
  $("input").addEventListener("keydown", (ev) => {
    // Enter sends; Shift+Enter breaks the line; an IME composing Chinese
    // uses Enter to confirm a candidate, which must not send.
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
      ev.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("input").addEventListener("paste", (ev) => {
    const files = [...(ev.clipboardData?.files || [])].filter((f) => f.type.startsWith("image/"));
    if (files.length && isVision(selectedModel())) {
      ev.preventDefault();
      addImages(files);
    }
  });
  $("composer").addEventListener("dragover", (ev) => {
    if (isVision(selectedModel())) ev.preventDefault();
  });
  $("composer").addEventListener("drop", (ev) => {
    if (!isVision(selectedModel())) return;
    ev.preventDefault();
    addImages([...ev.dataTransfer.files]);
  });
  $("stop").addEventListener("click", stop);
  $("clear").addEventListener("click", clearChat);
  $("attach").addEventListener("click", () => $("file").click());
  $("file").addEventListener("change", async () => {
    await addImages([...$("file").files]);
    $("file").value = "";
  });
  $("connect").addEventListener("click", connect);
  $("key").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") connect();
  });
  $("refresh-models").addEventListener("click", refreshModels);
  $("balance").addEventListener("click", async () => {
    await refreshBalance();
    renderAccount();
    $("account").showModal();
  });
  $("panel-toggle").addEventListener("click", () => {
    const open = $("panel").classList.toggle("open");
    $("panel-toggle").setAttribute("aria-expanded", String(open));
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refreshModels();
  });
  // Ready once the first listing has answered: the models, or the prompt
  // for a key, are what the page first shows.
  await connect();
  document.body.dataset.ready = "true";
}

main();

// Drives ggufd's test page (GET /) in headless Chromium and checks what a
// person would: the model list, a streamed reply, Stop (and its ledger row),
// the Chinese UI, the account page, a phone-sized screen, images for vision
// models. Run by the Go test TestWebUIInBrowser (cmd/ggufd), which starts a
// real daemon and passes its address and keys in the environment:
//
//   GGUFD_URL         http://127.0.0.1:PORT
//   GGUFD_KEY         an API key of account GGUFD_OPENID
//   GGUFD_OPENID      that account's openid
//   GGUFD_ADMIN_KEY   the admin key, to read the ledger
//   GGUFD_CHAT_MODEL  a chat model with token prices and a large context
//   SCREENSHOT_DIR    where to save screenshots
//   CHROMIUM          the browser (default /usr/bin/chromium)
//
// Each check prints one line, "PASS name", "SKIP name: why" or
// "FAIL name: why" (a failure's details follow, indented); "INFO text" lines
// before it are what the check measured. The exit status is 1 if any check
// failed.

import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const env = (name, def) => {
  const v = process.env[name] ?? def;
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};
const base = env("GGUFD_URL");
const key = env("GGUFD_KEY");
const openid = env("GGUFD_OPENID");
const adminKey = env("GGUFD_ADMIN_KEY");
const chatModel = env("GGUFD_CHAT_MODEL");
const shots = env("SCREENSHOT_DIR");
mkdirSync(shots, { recursive: true });

// Bounds on waits, not sleeps: a check fails when they pass.
const WAIT = 60_000;

let failed = 0;
async function check(name, fn) {
  try {
    const skip = await fn();
    if (typeof skip === "string") console.log(`SKIP ${name}: ${skip}`);
    else console.log(`PASS ${name}`);
  } catch (e) {
    failed++;
    const why = String((e && e.stack) || e).replace(/\x1b\[[0-9;]*m/g, "");
    console.log(`FAIL ${name}: ${why}`.replace(/\n/g, "\n    "));
  }
}

function note(text) {
  console.log(`INFO ${text}`);
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function api(path, auth = key) {
  const resp = await fetch(base + path, { headers: { Authorization: `Bearer ${auth}` } });
  if (!resp.ok) throw new Error(`${path}: ${resp.status} ${await resp.text()}`);
  return resp.json();
}

const micros = (v) => Math.round(Number(v) * 1e6);

// isVision reads a /v1/models entry's vision mark as the page does.
const isVision = (m) => m.vision === true || m.capabilities?.vision === true || (Array.isArray(m.capabilities) && m.capabilities.includes("vision"));

// ledgerRow waits for the ledger row of a request: the server writes it as
// the request settles, which can trail the stream's last byte.
async function ledgerRow(userid, requestId) {
  const deadline = Date.now() + WAIT;
  for (;;) {
    const rows = (await api(`/admin/ledger?openid=${encodeURIComponent(openid)}&userid=${encodeURIComponent(userid)}`, adminKey)).data;
    const row = rows.find((r) => r.request_id === requestId);
    if (row) return row;
    assert(Date.now() < deadline, `no ledger row for request ${requestId} of ${userid}: ${JSON.stringify(rows)}`);
    await new Promise((r) => setTimeout(r, 100)); // polling an external store
  }
}

const browser = await chromium.launch({
  executablePath: env("CHROMIUM", "/usr/bin/chromium"),
  headless: true,
  // Root in a container has no user namespaces for Chromium's sandbox.
  args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
});

async function openPage(opts = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-US", ...opts });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && !/status of 40[14]/.test(m.text()) && errors.push(m.text()));
  await page.goto(base + "/");
  await page.waitForSelector("body[data-ready=true]", { timeout: WAIT });
  return { context, page, errors };
}

async function connect(page) {
  await page.fill("#key", key);
  await page.click("#connect");
  await page.waitForSelector(`li.model[data-model="${chatModel}"]`, { timeout: WAIT });
}

// lastReply waits for the newest assistant reply to end and returns its
// figures as the page shows them.
async function lastReply(page) {
  const reply = page.locator(".msg.assistant").last();
  await reply.locator("xpath=self::*[@data-done]").waitFor({ timeout: WAIT });
  return reply.evaluate((el) => ({
    text: el.querySelector(".text").textContent,
    stats: el.querySelector(".stats").textContent,
    ...el.dataset,
  }));
}

// setExtra fills "More parameters (JSON)", opening its section first.
async function setExtra(page, json) {
  await page.locator("details:has(#extra)").evaluate((d) => (d.open = true));
  await page.fill("#extra", json);
}

// testPNG is a 64×48 PNG drawn by the browser itself, as a file to attach.
async function testPNG(page) {
  const png = await page.evaluate(() => {
    const c = document.createElement("canvas");
    c.width = 64;
    c.height = 48;
    const g = c.getContext("2d");
    g.fillStyle = "#c33";
    g.fillRect(0, 0, 64, 48);
    g.fillStyle = "#36c";
    g.fillRect(16, 12, 32, 24);
    return c.toDataURL("image/png").split(",")[1];
  });
  return { name: "red-blue.png", mimeType: "image/png", buffer: Buffer.from(png, "base64") };
}

async function send(page, text) {
  await page.fill("#input", text);
  await page.press("#input", "Enter");
}

const models = (await api("/v1/models")).data;
const chat = models.find((m) => m.id === chatModel);

const { context, page, errors } = await openPage();
const userid = await page.inputValue("#userid");

await check("page asks for a key before listing models", async () => {
  const msg = await page.textContent("#models-msg");
  assert(/API key/.test(msg), `models message: ${JSON.stringify(msg)}`);
  assert((await page.locator("li.model").count()) === 0, "models listed without a key");
});

await check("model list renders", async () => {
  await connect(page);
  assert(chat, `${chatModel} is not in /v1/models`);
  for (const m of models) {
    const li = page.locator(`li.model[data-model="${m.id}"]`);
    const text = await li.textContent();
    const status = await li.getAttribute("data-status");
    assert(status === m.status || ["loaded", "loading", "unloaded"].includes(status), `${m.id}: status ${status}`);
    assert(text.includes(m.id), `${m.id}: name missing in ${JSON.stringify(text)}`);
    if (m.context_length) assert(text.includes(`context ${m.context_length}`), `${m.id}: context missing in ${JSON.stringify(text)}`);
    if (m.description) assert(text.includes(m.description), `${m.id}: description missing`);
    const p = m.pricing;
    if (p?.input_per_1k || p?.output_per_1k) assert(text.includes(`${p.input_per_1k} / ${p.output_per_1k} ${p.currency} per 1K`), `${m.id}: price missing in ${JSON.stringify(text)}`);
    if (p?.per_second) assert(text.includes(`${p.per_second} ${p.currency} per second`), `${m.id}: per-second price missing in ${JSON.stringify(text)}`);
  }
  const info = await api(`/api_user/info?type=json`);
  await page.waitForFunction((b) => document.querySelector("#balance").textContent.includes(b), `Balance ${info.balance} ${info.currency}`, { timeout: WAIT });
});

await check("key stays in the page", async () => {
  assert((await context.cookies()).length === 0, "the page set a cookie");
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  assert(!stored.includes(key), `the key reached web storage without "keep for this tab": ${stored}`);
});

await check("streamed reply appears token by token", async () => {
  await page.click(`li.model[data-model="${chatModel}"]`);
  // Long enough that even a fast machine streams it over many reads.
  await page.fill("#max_tokens", "2000");
  await setExtra(page, '{"ignore_eos": true, "seed": 7}');
  // Record the reply's text each time the page changes it: every callback
  // of the observer is a separate moment the browser saw new text.
  await page.evaluate(() => {
    window.__seen = [];
    new MutationObserver(() => {
      const t = document.querySelector(".msg.assistant:last-of-type .text");
      if (t && t.textContent) window.__seen.push({ len: t.textContent.length, streaming: t.parentElement.classList.contains("streaming") });
    }).observe(document.querySelector("#transcript"), { subtree: true, childList: true, characterData: true });
  });
  await send(page, "Once upon a time");
  const r = await lastReply(page);
  const seen = await page.evaluate(() => window.__seen);
  const lens = [...new Set(seen.filter((s) => s.streaming).map((s) => s.len))];
  assert(lens.length >= 5, `only ${lens.length} distinct partial texts while streaming: ${JSON.stringify(seen.slice(0, 20))}`);
  assert(lens.every((l, i) => i === 0 || l > lens[i - 1]), `text did not only grow: ${lens}`);
  assert(lens[0] < r.text.length / 4, `the first text seen was already ${lens[0]} of ${r.text.length} characters`);
  assert(r.finish === "length" && r.completionTokens === "2000", `finish ${r.finish}, ${r.completionTokens} tokens`);
  for (const want of ["2000 tokens", "tokens/s", "first token", "cost", r.requestId]) {
    assert(r.stats.includes(want), `stats ${JSON.stringify(r.stats)} lack ${JSON.stringify(want)}`);
  }
  const row = await ledgerRow(userid, r.requestId);
  assert(row.completion_tokens === 2000 && String(row.prompt_tokens) === r.promptTokens, `ledger ${JSON.stringify(row)} vs page ${JSON.stringify(r)}`);
  assert(micros(row.cost) === Number(r.costMicros), `ledger cost ${row.cost}, page shows ${r.costMicros} micro-units`);
  note(`${lens.length} partial texts seen; ${r.stats}`);
});

await check("a short reply ends on its own", async () => {
  await page.click("#clear");
  assert((await page.locator(".msg").count()) === 0, "Clear left messages");
  await page.fill("#max_tokens", "120");
  await setExtra(page, '{"seed": 3}');
  await send(page, "Once upon a time");
  const r = await lastReply(page);
  assert(["stop", "length"].includes(r.finish) && !r.error && r.text.length > 0, `reply ${JSON.stringify(r)}`);
});

await check("stop ends a long generation and the ledger bills it", async () => {
  await page.fill("#max_tokens", "30000");
  await setExtra(page, '{"ignore_eos": true}');
  await send(page, "Tell me a very long story");
  const reply = page.locator(".msg.assistant").last();
  await page.waitForFunction(() => (document.querySelector(".msg.assistant:last-of-type .text")?.textContent.length || 0) > 80, null, { timeout: WAIT });
  assert(await page.isVisible("#stop"), "no Stop button while streaming");
  const clicked = Date.now();
  await page.click("#stop");
  const r = await lastReply(page);
  const tookMs = Date.now() - clicked;
  assert(r.finish === "stop", `finish ${r.finish} (error ${r.error || "none"})`);
  const n = Number(r.completionTokens);
  assert(n > 0 && n < 30000, `${r.completionTokens} completion tokens`);
  assert(r.stats.includes("finish: stopped"), `stats ${JSON.stringify(r.stats)}`);
  assert(await page.isVisible("#send"), "Send did not come back");
  const row = await ledgerRow(userid, r.requestId);
  assert(row.finish_reason === "stop" && row.completion_tokens === n, `ledger ${JSON.stringify(row)}, page ${n} tokens`);
  assert(micros(row.cost) > 0 && micros(row.cost) === Number(r.costMicros), `ledger cost ${row.cost}, page ${r.costMicros}`);
  // The account's running count drops to zero: nothing keeps generating.
  const info = await api(`/api_user/info?type=json`);
  assert(info.running === 0, `account still runs ${info.running} requests`);
  await reply.scrollIntoViewIfNeeded();
  await page.evaluate(() => (document.querySelector("#panel").scrollTop = 0));
  await page.screenshot({ path: join(shots, "laptop-en.png") });
  note(`stopped after ${n} tokens, ${tookMs} ms after the click; billed ${row.cost}`);
});

await check("balance follows the replies", async () => {
  const info = await api(`/api_user/info?type=json`);
  await page.waitForFunction((b) => document.querySelector("#balance").textContent.includes(b), `Balance ${info.balance} `, { timeout: WAIT });
  await page.click("#balance");
  try {
    await page.waitForSelector("#account[open] #account-body table", { timeout: WAIT });
    const spill = await page.evaluate(() => {
      const d = document.querySelector("#account").getBoundingClientRect();
      return [...document.querySelectorAll("#account .card")].filter((c) => c.getBoundingClientRect().right > d.right).length;
    });
    assert(spill === 0, `${spill} cards spill out of the account dialog`);
    const dlg = await page.textContent("#account");
    assert(dlg.includes(`Account ${openid}`) && dlg.includes(chatModel) && dlg.includes(String(info.total_spent)), `account dialog: ${dlg}`);
    await page.screenshot({ path: join(shots, "laptop-account-dialog.png") });
  } finally {
    await page.keyboard.press("Escape");
  }
  await page.waitForSelector("#account:not([open])", { state: "attached", timeout: WAIT });
});

await check("attach button only for vision models", async () => {
  for (const m of models.filter((m) => m.type !== "embeddings")) {
    await page.click(`li.model[data-model="${m.id}"]`);
    const shown = await page.isVisible("#attach");
    assert(shown === isVision(m), `${m.id}: attach button shown=${shown}, vision=${isVision(m)}`);
  }
  await page.click(`li.model[data-model="${chatModel}"]`);
});

await check("image reaches a vision model", async () => {
  const vision = models.find(isVision);
  if (!vision) return "no model in /v1/models is marked as vision (vision support not merged, or no vision model served)";
  await page.click("#clear");
  await page.click(`li.model[data-model="${vision.id}"]`);
  await page.fill("#max_tokens", "4");
  await setExtra(page, '{"seed": 1, "temperature": 0}');
  const question = "What is in this picture?";
  await send(page, question);
  const textOnly = await lastReply(page);
  assert(!textOnly.error, `text-only reply failed: ${textOnly.error}`);
  await page.click("#clear");
  await page.setInputFiles("#file", await testPNG(page));
  await page.waitForSelector("#attachments img", { timeout: WAIT });
  const sent = page.waitForRequest((req) => req.url().endsWith("/chat/completions") && req.method() === "POST");
  await send(page, question);
  const body = JSON.parse((await sent).postData());
  const parts = body.messages.at(-1).content;
  assert(Array.isArray(parts) && parts.some((p) => p.type === "image_url" && p.image_url.url.startsWith("data:image/png;base64,")), `request content: ${JSON.stringify(parts).slice(0, 200)}`);
  const withImage = await lastReply(page);
  assert(!withImage.error, `image reply failed: ${withImage.error}`);
  assert(Number(withImage.promptTokens) > Number(textOnly.promptTokens), `prompt tokens with the image ${withImage.promptTokens}, without ${textOnly.promptTokens}: the image did not reach the model`);
  assert(await page.isVisible(".msg.user img"), "the sent image is not shown in the conversation");
  await page.screenshot({ path: join(shots, "laptop-vision.png") });
  await page.click(`li.model[data-model="${chatModel}"]`);
});

await check("attached images go out as data URLs and a refusal is shown", async () => {
  // The page believes the chat model takes images (the model list is
  // rewritten on its way to the page); the server, which knows it has no
  // projector, must refuse the image with a 400 the page shows.
  const { context, page, errors } = await openPage();
  await page.route("**/v1/models", async (route) => {
    const resp = await route.fetch();
    const list = await resp.json();
    for (const m of list.data) if (m.id === chatModel) m.vision = true;
    await route.fulfill({ response: resp, json: list });
  });
  await connect(page);
  await page.click(`li.model[data-model="${chatModel}"]`);
  assert(await page.isVisible("#attach"), "no attach button for a model marked vision");
  await page.setInputFiles("#file", { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("hello") });
  await page.waitForSelector(".msg.assistant .error", { timeout: WAIT });
  assert((await page.textContent(".msg.assistant .error")).includes("notes.txt"), "a text file was not refused");
  await page.setInputFiles("#file", await testPNG(page));
  await page.waitForSelector("#attachments img", { timeout: WAIT });
  const sent = page.waitForRequest((req) => req.url().endsWith("/chat/completions") && req.method() === "POST");
  await send(page, "What is in this picture?");
  const parts = JSON.parse((await sent).postData()).messages.at(-1).content;
  assert(Array.isArray(parts) && parts[0].type === "text" && parts[0].text === "What is in this picture?", `text part: ${JSON.stringify(parts).slice(0, 200)}`);
  assert(parts[1]?.type === "image_url" && parts[1].image_url.url.startsWith("data:image/png;base64,iVBOR"), `image part: ${JSON.stringify(parts[1]).slice(0, 120)}`);
  const r = await lastReply(page);
  assert(r.error && r.stats.includes("Error"), `no error shown: ${JSON.stringify(r)}`);
  assert((await page.inputValue("#input")) === "What is in this picture?", "the refused question was not given back for editing");
  note(`server answered: ${r.error}`);
  assert(errors.filter((e) => !/status of 400/.test(e)).length === 0, errors.join("\n"));
  // The page refreshes its model list on its own: a refresh still inside
  // the handler when the context closes would reject route.fetch and end
  // the whole script with an unhandled rejection.
  await page.unrouteAll({ behavior: "ignoreErrors" });
  await context.close();
});

await check("openid URL form", async () => {
  // The provider's /llm_api/{openid}/{userid}//v1/… form, with the key of
  // the same account (as openid mode accepts it too).
  const { context, page, errors } = await openPage();
  await page.locator("#openid-mode").evaluate((d) => (d.open = true));
  await page.fill("#openid", openid);
  const uid = await page.inputValue("#userid");
  const listed = page.waitForRequest((req) => req.url().includes(`/llm_api/${openid}/${uid}//v1/models`));
  await connect(page);
  await listed;
  await page.click(`li.model[data-model="${chatModel}"]`);
  await page.fill("#max_tokens", "20");
  const sent = page.waitForRequest((req) => req.url().endsWith(`/llm_api/${openid}/${uid}//v1/chat/completions`));
  await send(page, "Once upon a time");
  await sent;
  const r = await lastReply(page);
  assert(r.completionTokens === "20" && !r.error, `reply ${JSON.stringify(r)}`);
  const row = await ledgerRow(uid, r.requestId);
  assert(row.userid === uid && row.completion_tokens === 20, `ledger ${JSON.stringify(row)}`);
  assert(errors.length === 0, errors.join("\n"));
  await context.close();
});

await check("no script errors on the English page", async () => {
  assert(errors.length === 0, errors.join("\n"));
});
await context.close();

await check("Chinese UI from the browser's language", async () => {
  const { context, page, errors } = await openPage({ locale: "zh-CN" });
  assert((await page.getAttribute("html", "lang")) === "zh-CN", "html lang is not zh-CN");
  assert((await page.textContent("#send")) === "发送" && (await page.textContent("#stop")) === "停止", "buttons not in Chinese");
  assert((await page.textContent("#models-msg")).includes("API 密钥"), "key prompt not in Chinese");
  await connect(page);
  const statusText = await page.textContent(`li.model[data-model="${chatModel}"] .badge`);
  assert(["已加载", "加载中", "未加载"].some((s) => statusText.startsWith(s)), `status ${statusText}`);
  assert((await page.textContent(`li.model[data-model="${chatModel}"]`)).includes("每千 token"), "price not in Chinese");
  await page.waitForFunction(() => document.querySelector("#balance").textContent.startsWith("余额"), null, { timeout: WAIT });
  await page.fill("#max_tokens", "40");
  await send(page, "从前");
  const r = await lastReply(page);
  assert(r.stats.includes("40 个 token") && r.stats.includes("首 token") && r.stats.includes("费用"), `stats ${r.stats}`);
  await page.screenshot({ path: join(shots, "laptop-zh.png") });
  // The switch changes every label, figures included, and back.
  await page.click('.lang-switch [data-lang="en"]');
  assert((await page.textContent("#send")) === "Send", "switch to English failed");
  assert((await page.locator(".msg.assistant .stats").last().textContent()).includes("40 tokens"), "reply figures did not follow the switch");
  await page.click('.lang-switch [data-lang="zh"]');
  assert((await page.textContent("#send")) === "发送", "switch back to Chinese failed");
  assert(errors.length === 0, errors.join("\n"));
  await context.close();
});

await check("readable on a phone", async () => {
  const { context, page, errors } = await openPage({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: "zh-CN",
  });
  await page.click("#panel-toggle");
  await connect(page);
  await page.fill("#max_tokens", "60");
  await page.screenshot({ path: join(shots, "phone-zh-settings.png") });
  await page.click(`li.model[data-model="${chatModel}"]`);
  assert(!(await page.isVisible("#panel")), "the settings drawer stayed open after picking a model");
  await send(page, "Once upon a time");
  await lastReply(page);
  const wrapped = await page.evaluate(() =>
    [...document.querySelectorAll(".topbar > :not([hidden])")].filter((e) => e.getBoundingClientRect().height > 40).map((e) => e.id || e.className));
  assert(wrapped.length === 0, `top bar items wrap onto several lines: ${wrapped}`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert(overflow <= 0, `the page is ${overflow}px wider than the phone`);
  for (const sel of ["#send", "#input", ".msg.assistant .stats"]) {
    const box = await page.locator(sel).last().boundingBox();
    assert(box && box.x >= 0 && box.x + box.width <= 390, `${sel} is outside the screen: ${JSON.stringify(box)}`);
  }
  await page.screenshot({ path: join(shots, "phone-zh-chat.png") });
  assert(errors.length === 0, errors.join("\n"));
  await context.close();
});

await check("account page in the browser's language", async () => {
  for (const [locale, want, other] of [["zh-CN", "余额", "Balance"], ["en-US", "Balance", "余额"]]) {
    const context = await browser.newContext({ locale, viewport: { width: 1280, height: 800 }, extraHTTPHeaders: { Authorization: `Bearer ${key}` } });
    const page = await context.newPage();
    const resp = await page.goto(`${base}/api_user/info?openid=${encodeURIComponent(openid)}`);
    assert(resp.status() === 200, `status ${resp.status()}`);
    const text = await page.textContent("body");
    assert(text.includes(want) && !text.includes(other) && text.includes(chatModel), `${locale}: ${text.slice(0, 300)}`);
    if (locale === "zh-CN") {
      await page.screenshot({ path: join(shots, "account-zh.png") });
      await page.setViewportSize({ width: 390, height: 844 });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert(overflow <= 0, `the account page is ${overflow}px wider than a phone`);
      await page.screenshot({ path: join(shots, "account-zh-phone.png") });
      await page.click('.lang-switch a[lang="en"]');
      assert((await page.textContent("body")).includes("Total spent"), "the page's switch did not turn it English");
    }
    await context.close();
  }
});

await browser.close();
process.exit(failed ? 1 : 0);

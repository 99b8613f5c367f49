// The attention explorer: the form, the calls to the live /v1 API, the views of each task.
import { Heatmap, label, thumbnail } from "./heatmap.js";

const $ = (id) => document.getElementById(id);
const EXAMPLES = {
  classification: "A moving, beautifully acted film, even if the ending drags.",
  translation: "The file {name} could not be deleted.",
};
const KEY = "attnserve-api-key";
const KINDS = {
  self: "self-attention",
  cross: "cross-attention (target → source)",
  decoder_self: "decoder self-attention",
  pooling: "attention pooling",
};

const heatmap = new Heatmap($("heatmap"), { cursor: $("cursor"), tip: $("tip"), readout: $("readout") });
let models = [];
let shown = null; // {out: /v1/attention response, maps: {kind: [map by layer]}}

class ApiError extends Error {}

// POST (or GET without a body) to the service; an error's message is the API's own words.
async function api(path, body) {
  let response;
  const headers = { "Content-Type": "application/json" };
  const key = sessionStorage.getItem(KEY);
  if (key) headers.Authorization = `Bearer ${key}`;
  try {
    response = await fetch(path, body === undefined ? { headers } : {
      method: "POST",
      headers,
      body: JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(`Could not reach the service (${e.message}). Is it still running?`);
  }
  if (!response.ok) await refused(response);
  return response.json();
}

// POST to /v1/translate/stream and read its Server-Sent Events: onText(text so far) at
// each growth; the `done` event's data is the result. Refusals before the stream opens
// are the API's JSON errors, as for api(); an `error` event is thrown the same way.
async function streamTranslation(body, onText) {
  const headers = { "Content-Type": "application/json" };
  const key = sessionStorage.getItem(KEY);
  if (key) headers.Authorization = `Bearer ${key}`;
  let response;
  try {
    response = await fetch("v1/translate/stream", { method: "POST", headers, body: JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(`Could not reach the service (${e.message}). Is it still running?`);
  }
  if (!response.ok || !(response.headers.get("Content-Type") || "").startsWith("text/event-stream")) {
    await refused(response);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const record = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const name = (record.match(/^event: (.*)$/m) || [])[1];
      const data = JSON.parse((record.match(/^data: (.*)$/m) || [])[1] || "null");
      if (name === "tokens") {
        onText(data.text);
        // events that came in one read are shown one after the other, not only the last
        await new Promise((resolve) => setTimeout(resolve));
      }
      else if (name === "done") return data;
      else if (name === "error") throw new ApiError(`The translation failed: ${data.error.message}`);
    }
  }
  throw new ApiError("The service closed the stream before the translation was done.");
}

// Throw the ApiError a refused response stands for (its JSON error's own words).
async function refused(response) {
  let data = null;
  try {
    data = await response.json();
  } catch {
    // not JSON: the status line is all there is
  }
  if (response.status === 401) $("auth").hidden = false;
  const err = data && data.error;
  const said = typeof err === "string" ? err : err && err.message;
  const detail = said || (data && JSON.stringify(data.detail)) || response.statusText;
  const wait = response.headers.get("Retry-After");
  const busy = response.status === 429 || response.status === 503;
  const prefix = busy
    ? `The service is busy${wait ? `; try again in ${wait} s` : ""}: `
    : `The service refused this (${response.status}): `;
  throw new ApiError(prefix + detail);
}

function showGrowing(text) {
  $("summary").replaceChildren(
    el("h2", {}, "Translation"),
    el("p", { className: "answer", id: "translation", lang: "fr" }, text),
    el("p", { className: "hint" }, "translating…"),
  );
  $("maps").hidden = true; // the maps shown are an earlier text's until this one's come
  showResults(true);
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

// Either the results of the text just asked, or the panel that says how to get some.
function showResults(visible, why) {
  $("results").hidden = !visible;
  $("empty").hidden = visible;
  if (!visible) {
    shown = null;
    if (why) $("empty-why").textContent = why;
  }
}

function model() {
  return models.find((m) => m.name === $("model").value);
}

async function loadModels() {
  let data;
  try {
    data = await api("v1/models");
  } catch (e) {
    showError(e.message);
    return;
  }
  models = data.models;
  const select = $("model");
  select.replaceChildren(...models.map((m) => {
    const o = new Option(`${m.name} (${m.task}${m.state === "ready" ? "" : `, ${m.state}`})`, m.name);
    o.disabled = m.state !== "ready";
    return o;
  }));
  const ready = models.filter((m) => m.state === "ready");
  if (!ready.length) {
    showError(`No model is ready yet: ${models.map((m) => `${m.name} is ${m.state}${m.error ? ` (${m.error})` : ""}`).join("; ") || "the repository is empty"}. Reload the page when one is.`);
    $("run").disabled = true;
    return;
  }
  const wanted = new URLSearchParams(location.search).get("model");
  select.value = (ready.find((m) => m.name === wanted) || ready[0]).name;
  modelChanged();
}

function modelChanged() {
  const m = model();
  if (!m) return;
  const text = $("text");
  if (!text.value.trim() || Object.values(EXAMPLES).includes(text.value)) {
    text.value = EXAMPLES[m.task] || "";
  }
  const limits = m.limits || {};
  $("model-info").textContent = `version ${m.version} · ${m.task} · ${m.provider || ""} ${m.precision || ""} · at most ${limits.max_input_tokens} tokens`;
  $("model-about").textContent = m.description || "";
  const translation = m.task === "translation";
  $("translation-options").hidden = !translation;
  if (translation) {
    const beams = [1, 2, 4, 8, 16].filter((k) => k <= (limits.max_beam_size || 1));
    const byDefault = (m.decoding && m.decoding.beam_size) || 1;
    $("beam").replaceChildren(...beams.map((k) => new Option(
      `${k === 1 ? "greedy" : `beam ${k}`}${k === byDefault ? " (default)" : ""}`, k)));
    $("beam").value = String(beams.includes(byDefault) ? byDefault : 1);
  }
}

async function explore(event) {
  event.preventDefault();
  if ($("run").disabled) return; // one question at a time (Ctrl+Enter included)
  const m = model();
  if (!m) return;
  const text = $("text").value;
  const truncate = $("truncate").checked;
  if (!text.trim()) {
    showError("Type or paste some text first: there is nothing to look at in an empty text.");
    showResults(false, "Type a text and press Explore to see its maps.");
    $("text").focus();
    return;
  }
  showError("");
  $("run").disabled = true;
  $("query").setAttribute("aria-busy", "true");
  $("status").textContent = `Asking ${m.name}…`;
  const started = performance.now();
  try {
    if (m.task === "classification") {
      const [classified, out] = await Promise.all([
        api("v1/classify", { model: m.name, texts: [text], truncate }),
        api("v1/attention", { model: m.name, text, truncate }),
      ]);
      showClassification(classified.results[0], out);
    } else {
      const forced = $("target").value;
      let result = null;
      let target = forced;
      if (!forced.trim()) {
        const beam = Number($("beam").value);
        // the translation appears as it decodes (greedy: token by token; a beam: the
        // prefix its beams agree on), then its maps are asked for
        const done = await streamTranslation({ model: m.name, text, beam_size: beam, truncate }, showGrowing);
        result = { ...done, beam };
        target = result.translation;
      }
      const out = await api("v1/attention", { model: m.name, text, target, truncate });
      showTranslation(result, out);
    }
    $("status").textContent = `${m.name} v${m.version} answered in ${Math.round(performance.now() - started)} ms.`;
    showResults(true);
  } catch (e) {
    $("status").textContent = "";
    showError(e instanceof ApiError ? e.message : `Something went wrong in the page: ${e.message}`);
    // The results on screen belong to an earlier text: never leave them under this error.
    showResults(false, "The last question got no answer (see the message beside the form); ask again to see its maps.");
  } finally {
    $("run").disabled = false;
    $("query").removeAttribute("aria-busy");
  }
}

function el(tag, props = {}, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

function showClassification(result, out) {
  const probs = Object.entries(result.probabilities);
  const pooling = out.attention.find((a) => a.kind === "pooling").weights;
  const top = Math.max(...pooling);
  $("summary").replaceChildren(
    el("h2", {}, "Prediction"),
    el("p", { className: "answer", id: "label" }, result.label, el("span", {}, ` ${(100 * result.score).toFixed(1)} %`)),
    el("dl", { className: "probabilities" }, ...probs.flatMap(([name, p]) => [
      el("dt", {}, name),
      el("dd", {}, el("meter", { min: 0, max: 1, value: p, title: p.toFixed(4) }), ` ${p.toFixed(4)}`),
    ])),
    el("h2", {}, "What the classifier attends to"),
    el("p", { className: "hint" }, "Each token shaded by its attention-pooling weight (darker: more weight)."),
    el("p", { className: "tokens", id: "pooled" }, ...out.tokens.map((t, i) => el("span", {
      title: `${label(t)}: ${pooling[i].toFixed(4)}`,
      style: `--w: ${(pooling[i] / top).toFixed(3)}`,
      className: pooling[i] / top > 0.55 ? "strong" : "",
    }, t))),
  );
  setMaps(out);
}

function showTranslation(result, out) {
  const how = result
    ? `${result.beam === 1 ? "greedy" : `beam ${result.beam}`}, score ${result.score.toFixed(3)}`
    : "forced: the alignment of the translation you gave";
  $("summary").replaceChildren(
    el("h2", {}, "Translation"),
    el("p", { className: "answer", id: "translation", lang: "fr" }, out.translation),
    el("p", { className: "hint" }, how),
  );
  setMaps(out);
}

// Group the maps by kind, fill the selectors, show the default map.
function setMaps(out) {
  $("maps").hidden = false;
  const maps = {};
  for (const a of out.attention) (maps[a.kind] ||= []).push(a);
  shown = { out, maps };
  const order = ["cross", "self", "decoder_self", "pooling"].filter((k) => k in maps);
  $("kind").replaceChildren(...order.map((k) => new Option(KINDS[k], k)));
  $("kind").value = order[0];
  kindChanged();
}

function kindChanged() {
  const kind = $("kind").value;
  const layers = shown.maps[kind];
  const pooling = kind === "pooling";
  $("layer").replaceChildren(...layers.map((a, i) => new Option(pooling ? "—" : `layer ${a.layer + 1} of ${layers.length}`, i)));
  $("layer").value = String(layers.length - 1);
  $("layer").disabled = pooling;
  const heads = pooling ? 0 : layers[0].weights.length;
  $("head").replaceChildren(new Option(pooling ? "—" : `mean of ${heads} heads`, "mean"),
    ...Array.from({ length: heads }, (_, h) => new Option(`head ${h + 1}`, h)));
  $("head").disabled = pooling;
  render();
  overview();
}

// The current map: {grid, rows, cols, title, xLabel, yLabel, raw}
function current() {
  const { out, maps } = shown;
  const kind = $("kind").value;
  const a = maps[kind][Number($("layer").value)];
  const head = $("head").value;
  const target = out.target_tokens || [];
  if (kind === "pooling") {
    return { grid: [a.weights], rows: ["pooling"], cols: out.tokens, title: `${out.model} v${out.version}: attention pooling`, xLabel: "token", yLabel: "", raw: a };
  }
  const grid = head === "mean" ? mean(a.weights) : a.weights[Number(head)];
  const rows = kind === "self" ? out.tokens : target;
  // the decoder's inputs are <s>, then the target shifted by one
  const cols = kind === "decoder_self" ? ["<s>", ...target.slice(0, -1)] : out.tokens;
  const which = head === "mean" ? "mean of heads" : `head ${Number(head) + 1}`;
  return {
    grid, rows, cols, raw: a,
    title: `${out.model} v${out.version}: ${KINDS[kind]}, layer ${a.layer + 1}, ${which}`,
    xLabel: kind === "decoder_self" ? "key (target so far)" : kind === "cross" ? "key (source)" : "key",
    yLabel: kind === "self" ? "query" : "query (target)",
  };
}

function mean(heads) {
  return heads[0].map((row, i) => row.map((_, j) => heads.reduce((s, h) => s + h[i][j], 0) / heads.length));
}

function render() {
  const map = current();
  heatmap.draw(map);
  $("map-title").textContent = map.title.split(": ")[1];
  $("table-view").open ? table(map) : $("weights").replaceChildren();
}

function table(map) {
  const head = el("tr", {}, el("th", { scope: "col" }, `${map.yLabel || "row"} \\ ${map.xLabel}`),
    ...map.cols.map((c) => el("th", { scope: "col" }, label(c))));
  const body = map.rows.map((r, i) => el("tr", {}, el("th", { scope: "row" }, label(r)),
    ...map.grid[i].map((v) => el("td", {}, v.toFixed(3)))));
  $("weights").replaceChildren(el("caption", {}, map.title), el("thead", {}, head), el("tbody", {}, ...body));
}

// Thumbnails of every layer × (mean, heads) of the current kind; a click shows that one.
function overview() {
  const kind = $("kind").value;
  const layers = shown.maps[kind];
  if (kind === "pooling") {
    $("overview").replaceChildren();
    return;
  }
  const rows = layers.map((a, l) => el("div", { className: "overview-row" },
    el("span", { className: "overview-label" }, `layer ${a.layer + 1}`),
    ...["mean", ...a.weights.keys()].map((h) => {
      const grid = h === "mean" ? mean(a.weights) : a.weights[h];
      const name = h === "mean" ? "mean" : `head ${h + 1}`;
      const b = el("button", { type: "button", className: "thumb", title: `layer ${a.layer + 1}, ${name}` },
        thumbnail(grid), el("span", {}, name));
      b.setAttribute("aria-label", `show layer ${a.layer + 1}, ${name}`);
      b.addEventListener("click", () => {
        $("layer").value = String(l);
        $("head").value = String(h);
        render();
        $("heatmap").focus();
      });
      return b;
    })));
  $("overview").replaceChildren(...rows);
}

function download(name, blob) {
  const url = URL.createObjectURL(blob);
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function fileName(ext) {
  const map = current();
  const { out } = shown;
  const kind = $("kind").value;
  const head = $("head").value;
  const parts = [out.model, `v${out.version}`, kind];
  if (kind !== "pooling") parts.push(`layer${map.raw.layer + 1}`, head === "mean" ? "mean" : `head${Number(head) + 1}`);
  return `${parts.join("-")}.${ext}`;
}

function downloadPng() {
  $("heatmap").toBlob((blob) => download(fileName("png"), blob), "image/png");
}

function downloadJson() {
  const map = current();
  const { out } = shown;
  const body = {
    model: out.model, version: out.version, text: $("text").value,
    kind: $("kind").value, layer: map.raw.layer,
    head: $("head").value === "mean" ? "mean" : Number($("head").value),
    row_tokens: map.rows, column_tokens: map.cols,
    weights: map.grid,
    all_heads: $("kind").value === "pooling" ? undefined : map.raw.weights,
  };
  download(fileName("json"), new Blob([JSON.stringify(body, null, 1)], { type: "application/json" }));
}

$("use-key").addEventListener("click", () => {
  sessionStorage.setItem(KEY, $("key").value.trim());
  $("key").value = "";
  $("auth").hidden = true;
  showError("");
  $("run").disabled = false;
  loadModels();
});
$("query").addEventListener("submit", explore);
$("model").addEventListener("change", modelChanged);
$("kind").addEventListener("change", kindChanged);
$("layer").addEventListener("change", render);
$("head").addEventListener("change", render);
$("download-png").addEventListener("click", downloadPng);
$("download-json").addEventListener("click", downloadJson);
$("table-view").addEventListener("toggle", () => {
  if (shown && $("table-view").open) table(current());
});
$("text").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) $("query").requestSubmit();
});
loadModels();

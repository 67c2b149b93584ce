// The chat page of the static Space: runs the tuned model in the visitor's browser.
//
// The model is a GGUF file (made by `python -m scripts export`) that wllama, llama.cpp
// compiled to WebAssembly, runs on the visitor's own CPU. Nothing typed here is sent
// to a server: the page downloads the model once and the browser keeps it.
//
// Settings come from the JSON block with id "space-config" in index.html, written by
// `python -m scripts space` from project.toml.

import { Wllama } from "./vendor/wllama/wllama.js";

const config = JSON.parse(document.getElementById("space-config").textContent);

const loadButton = document.getElementById("load-button");
const statusText = document.getElementById("status");
const progressBar = document.getElementById("progress");
const form = document.getElementById("ask-form");
const questionBox = document.getElementById("question");
const askButton = document.getElementById("ask-button");
const stopButton = document.getElementById("stop-button");
const messages = document.getElementById("messages");

let wllama = null;
let stopper = null; // aborts the answer being written (the Stop button)

// Where the model file comes from: the published model repo, unless this page is served
// from this computer and names another file with ?model=URL (used by the tests, and handy
// for trying a freshly exported model before publishing). A public Space ignores ?model=,
// so nobody can make it show a different model under your name.
function modelUrl() {
  const requested = new URLSearchParams(window.location.search).get("model");
  const servedLocally = ["127.0.0.1", "localhost", "[::1]"].includes(window.location.hostname);
  return requested && servedLocally ? new URL(requested, window.location.href).href : config.model_url;
}

function setStatus(text, state) {
  statusText.textContent = text;
  statusText.dataset.state = state;
}

async function loadModel() {
  loadButton.disabled = true;
  progressBar.hidden = false;
  setStatus(`Downloading the model (${config.model_size}, only the first time)…`, "loading");
  wllama = new Wllama({ default: new URL("./vendor/wllama/wllama.wasm", import.meta.url).href });
  // Browsers without WebAssembly JSPI or Memory64 (Safari, older ones) need wllama's slower "compat"
  // build. It is vendored beside the default one (wllama would otherwise load it from a CDN).
  wllama.setCompat({
    worker: new URL("./vendor/wllama/compat/wllama.js", import.meta.url).href,
    wasm: new URL("./vendor/wllama/compat/wllama.wasm", import.meta.url).href,
  });
  try {
    await wllama.loadModelFromUrl(modelUrl(), {
      n_ctx: config.context_length,
      // CPU only: the answers then match the ones the template's tests checked against PyTorch.
      n_gpu_layers: 0,
      progressCallback: ({ loaded, total }) => {
        if (total) progressBar.value = loaded / total;
      },
    });
  } catch (error) {
    setStatus(`The model could not be loaded: ${error.message}. Reload the page to try again.`, "error");
    loadButton.disabled = false;
    return;
  }
  progressBar.hidden = true;
  loadButton.hidden = true;
  // Several threads only when the page is cross-origin isolated (the Space's custom_headers);
  // wllama uses half the processor's cores. Shown so a slow page can be explained.
  const threads = wllama.getNumThreads();
  statusText.dataset.threads = threads;
  setStatus(`Ready (${threads === 1 ? "1 thread" : `${threads} threads`}). Ask a question below.`, "ready");
  questionBox.disabled = false;
  askButton.disabled = false;
  questionBox.focus();
}

function addMessage(role, text) {
  const bubble = document.createElement("div");
  bubble.className = `message ${role}`;
  bubble.textContent = text;
  messages.append(bubble);
  bubble.scrollIntoView({ block: "end" });
  return bubble;
}

// Each question is answered on its own, like in training and evaluation: a model this
// small answers single questions better than long conversations.
async function answer(question) {
  addMessage("user", question);
  const reply = addMessage("assistant", "");
  reply.dataset.state = "thinking";
  askButton.disabled = true;
  stopper = new AbortController();
  stopButton.hidden = false;
  try {
    const stream = await wllama.createChatCompletion({
      messages: [{ role: "user", content: question }],
      max_tokens: config.max_new_tokens,
      temperature: 0, // greedy: the most likely next word every time, so answers are repeatable
      cache_prompt: false,
      stream: true,
      abortSignal: stopper.signal,
    });
    let text = "";
    let tokens = 0; // one streamed chunk per generated token; bench/space_browser.py reads the speed
    const started = performance.now();
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      tokens += 1;
      reply.textContent = text;
    }
    reply.dataset.tokensPerSecond = (tokens / ((performance.now() - started) / 1000)).toFixed(1);
    reply.textContent = text.trim();
    reply.dataset.state = stopper.signal.aborted ? "stopped" : "done";
  } catch (error) {
    if (stopper.signal.aborted) {
      reply.textContent = `${reply.textContent.trim()} [stopped]`;
      reply.dataset.state = "stopped";
    } else {
      reply.textContent = `Something went wrong: ${error.message}`;
      reply.dataset.state = "error";
    }
  }
  stopButton.hidden = true;
  askButton.disabled = false;
  questionBox.focus();
}

loadButton.addEventListener("click", loadModel);
stopButton.addEventListener("click", () => stopper?.abort());

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const question = questionBox.value.trim();
  if (!question || askButton.disabled) return;
  questionBox.value = "";
  answer(question);
});

// Enter sends the question; Shift+Enter starts a new line.
questionBox.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    form.requestSubmit();
  }
});

for (const example of document.querySelectorAll(".example")) {
  example.addEventListener("click", () => {
    questionBox.value = example.textContent;
    if (!askButton.disabled) form.requestSubmit();
  });
}

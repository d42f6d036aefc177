// The web inbox: the captured messages through the relay's own API, live over /api/events.
// Text from mail only ever reaches the page as text (textContent), never as markup;
// a message's HTML is shown by the server's sandboxed frame, never by this script.
"use strict";

const PAGE = 100;
const state = {
  query: "",
  messages: [],
  matching: 0,
  current: null,
  remote: false,
  raw: "raw",
  tab: "html",
  loads: 0, // lists asked for; an answer to an older ask is dropped
  loading: false,
};
const byId = (id) => document.getElementById(id);

function make(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (name === "class") element.className = value;
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

async function api(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  if (!response.ok) throw new Error(`${response.status}: ${(await response.text()).trim()}`);
  const kind = response.headers.get("Content-Type") || "";
  return kind.includes("json") ? response.json() : response.text();
}

function person(address) {
  if (!address) return "";
  return address.Name ? `${address.Name} <${address.Address}>` : address.Address;
}

function people(list) {
  return (list || []).map(person).join(", ");
}

function when(text) {
  const moment = new Date(text);
  if (Number.isNaN(moment.getTime())) return text;
  const today = new Date();
  if (moment.toDateString() === today.toDateString()) {
    return moment.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }
  return moment.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

// -- the list -----------------------------------------------------------------

async function loadList(more) {
  const start = more ? state.messages.length : 0;
  const path = state.query
    ? `/api/v1/search?query=${encodeURIComponent(state.query)}&start=${start}&limit=${PAGE}`
    : `/api/v1/messages?start=${start}&limit=${PAGE}`;
  const mine = ++state.loads;
  state.loading = true;
  let found;
  try {
    found = await api("GET", path);
  } finally {
    if (mine === state.loads) state.loading = false;
  }
  if (mine !== state.loads) return; // a later list is on its way
  state.messages = more ? state.messages.concat(found.messages) : found.messages;
  state.matching = found.messages_count;
  showCounts(found.total, found.unread);
  renderList();
}

function showCounts(total, unread) {
  const shown = state.query ? `${state.matching} found of ${total}` : `${total} message${total === 1 ? "" : "s"}`;
  byId("counts").textContent = `${shown}, ${unread} unread`;
  byId("delete-all").disabled = total === 0;
}

function row(message) {
  const added = (message.ContactPersons || []).length;
  const button = make(
    "button",
    {
      type: "button",
      class: `row${message.Read ? "" : " unread"}${state.current === message.ID ? " current" : ""}`,
      "data-id": message.ID,
      onclick: () => openMessage(message.ID),
    },
    make("span", { class: "who" }, people(message.To) || "(no To)"),
    make("span", { class: "when" }, when(message.Created)),
    make("span", { class: "subject-line" }, message.Subject || "(no subject)"),
    make(
      "span",
      { class: "badges" },
      message.CategoryKey ? make("span", { class: "badge" }, message.CategoryKey) : null,
      added ? make("span", { class: "badge cc", title: "Contact persons the relay added" }, `+${added} cc`) : null,
      message.Attachments ? make("span", { class: "badge", title: "Attachments" }, `${message.Attachments} file${message.Attachments === 1 ? "" : "s"}`) : null,
    ),
    make("span", { class: "snippet" }, `${person(message.From)} · ${message.Snippet}`),
  );
  return make("li", { id: `message-${message.ID}` }, button);
}

function renderList() {
  const list = byId("messages");
  list.replaceChildren(...state.messages.map(row));
  byId("empty").hidden = state.messages.length > 0;
  byId("empty").textContent = state.query
    ? "No captured message matches."
    : "No captured messages yet. Send mail to the relay's SMTP port and it appears here.";
  byId("more").hidden = state.messages.length >= state.matching;
}

// -- one message --------------------------------------------------------------

async function openMessage(id) {
  state.current = id;
  state.remote = false;
  if (location.hash !== `#${id}`) history.replaceState(null, "", `${location.pathname}${location.search}#${id}`);
  let message, changes;
  try {
    [message, changes] = await Promise.all([
      api("GET", `/api/v1/message/${id}`),
      api("GET", `/api/v1/message/${id}/changes`),
    ]);
  } catch (error) {
    byId("subject").textContent = `Message ${id} is gone (${error.message}).`;
    return;
  }
  const listed = state.messages.find((m) => m.ID === id);
  if (listed) listed.Read = true;
  renderList();
  byId("main").classList.add("reading");
  byId("view").hidden = false;
  byId("subject").textContent = message.Subject || "(no subject)";
  const meta = byId("meta");
  meta.replaceChildren();
  const fields = [
    ["From", person(message.From)],
    ["To", people(message.To)],
    ["Cc", people(message.Cc)],
    ["Bcc", people(message.Bcc)],
    ["Date", when(message.Date)],
    ["Category", message.Category ? `${message.Category}${message.CategoryKey && message.CategoryKey !== message.Category ? ` (${message.CategoryKey})` : ""}` : ""],
    ["Tagged by", message.TaggedBy],
    ["Envelope", `from ${message.Envelope.From || "<>"} to ${message.Envelope.To.join(", ")}`],
  ];
  for (const [name, value] of fields) {
    if (!value) continue;
    meta.append(make("dt", {}, name), make("dd", {}, value));
  }
  showContacts(message.ContactPersons, changes);
  byId("download").href = `/api/v1/message/${id}/raw?dl=1`;
  byId("text").textContent = message.Text || "(no text part)";
  showHeaders(changes);
  showAttachments(message);
  byId("tab-html-button").hidden = !message.HTML;
  showFrame(message);
  await showRaw();
  selectTab(state.tab === "html" && !message.HTML ? "text" : state.tab);
}

function showContacts(added, changes) {
  const body = byId("contacts-table").tBodies[0];
  body.replaceChildren(
    ...added.map((p) =>
      make(
        "tr",
        {},
        make("td", {}, p.Name ? `${p.Name} <${p.Email}>` : p.Email),
        make("td", {}, p.Customer),
        make("td", {}, p.Reason),
      ),
    ),
  );
  byId("contacts-table").hidden = added.length === 0;
  const none = byId("contacts-none");
  none.hidden = added.length > 0;
  none.textContent = `Nobody was added${changes.Reason ? `: ${changes.Reason}` : "."}`;
}

function showHeaders(changes) {
  const rows = changes.Headers.map((pair) => {
    const before = pair.Before, after = pair.After;
    const kind = before === after ? "" : before === null ? "added" : after === null ? "removed" : "changed";
    return make(
      "tr",
      {},
      make("td", { class: before === null ? "missing" : kind === "" ? "" : "removed" }, before ?? ""),
      make("td", { class: after === null ? "missing" : kind === "" ? "" : "added" }, after ?? ""),
    );
  });
  byId("diff").replaceChildren(...rows);
  byId("decision").textContent = changes.Decision ? `Decision: ${changes.Decision}. ${changes.Reason}` : "";
}

function showAttachments(message) {
  const parts = [...message.Attachments, ...message.Inline];
  const button = byId("tab-attachments-button");
  button.textContent = `Attachments (${parts.length})`;
  byId("no-attachments").hidden = parts.length > 0;
  byId("attachments").replaceChildren(
    ...parts.map((part) => {
      const url = `/api/v1/message/${message.ID}/part/${encodeURIComponent(part.PartID)}`;
      return make(
        "li",
        {},
        make("span", { class: "name" }, part.FileName || "(unnamed)"),
        make("span", { class: "kind" }, `${part.ContentType}, ${size(part.Size)}`),
        make("span", { class: "spacer" }),
        make("a", { class: "button", href: url, target: "_blank", rel: "noopener noreferrer" }, "Open"),
        make("a", { class: "button download", href: `${url}?download=1`, download: part.FileName || "" }, "Download"),
      );
    }),
  );
}

function showFrame(message) {
  const frame = byId("frame");
  byId("no-html").hidden = Boolean(message.HTML);
  frame.hidden = !message.HTML;
  byId("remote").parentElement.hidden = !message.HTML;
  // Links may open a tab of their own once remote content is allowed; scripts, forms never.
  frame.setAttribute("sandbox", state.remote ? "allow-popups allow-popups-to-escape-sandbox" : "");
  byId("remote-state").textContent = state.remote
    ? "Remote content is allowed for this message; links open in a new tab."
    : "Remote images, styles and links are blocked.";
  byId("remote").textContent = state.remote ? "Block remote content" : "Allow remote content";
  frame.src = message.HTML ? `/view/${message.ID}.html${state.remote ? "?remote=1" : ""}` : "about:blank";
}

async function showRaw() {
  if (!state.current) return;
  const path = state.raw === "original" ? "original" : "raw";
  byId("raw").textContent = await api("GET", `/api/v1/message/${state.current}/${path}`);
}

function selectTab(name) {
  state.tab = name;
  for (const button of document.querySelectorAll(".tabs button")) {
    button.setAttribute("aria-selected", String(button.dataset.tab === name));
  }
  for (const panel of document.querySelectorAll(".tab")) panel.hidden = panel.id !== `tab-${name}`;
}

function closeMessage() {
  state.current = null;
  byId("main").classList.remove("reading");
  byId("view").hidden = true;
  byId("frame").src = "about:blank";
  history.replaceState(null, "", `${location.pathname}${location.search}`);
  renderList();
}

// -- changes ------------------------------------------------------------------

async function deleteCurrent() {
  if (!state.current) return;
  const id = state.current;
  await api("DELETE", "/api/v1/messages", { IDs: [id] });
  state.messages = state.messages.filter((m) => m.ID !== id);
  closeMessage();
}

function askDeleteAll() {
  const dialog = byId("confirm");
  byId("confirm-text").textContent =
    "Delete every captured message? This cannot be undone (their relay log entries stay).";
  dialog.showModal();
  byId("confirm-no").focus();
}

async function deleteAll() {
  byId("confirm").close();
  await api("DELETE", "/api/v1/messages", {});
  state.messages = [];
  closeMessage();
  await loadList(false);
}

// -- live updates -------------------------------------------------------------

let reload = null;

function reloadSoon() {
  clearTimeout(reload);
  reload = setTimeout(() => loadList(false).catch(showError), 150);
}

function onEvent(event) {
  const { Type: type, Data: data } = JSON.parse(event.data);
  if (type === "new") {
    // A list on its way may have been read before this message came: read it again after.
    if (state.query || state.loading) return reloadSoon();
    if (!state.messages.some((m) => m.ID === data.ID)) {
      state.messages.unshift(data);
      state.matching += 1;
      renderList();
    }
  } else if (type === "stats") {
    if (!state.query) state.matching = data.Total;
    showCounts(data.Total, data.Unread);
  } else if (type === "update") {
    const found = state.messages.find((m) => m.ID === data.ID);
    if (found) {
      found.Read = data.Read;
      renderList();
    }
  } else if (type === "delete") {
    state.messages = state.messages.filter((m) => m.ID !== data.ID);
    if (state.current === data.ID) closeMessage();
    renderList();
  } else if (type === "truncate" || type === "prune") {
    if (type === "truncate" && state.current) closeMessage();
    reloadSoon();
  }
}

function listen(again) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/api/events`);
  socket.addEventListener("open", () => {
    byId("live").classList.add("on");
    if (again) reloadSoon(); // whatever came while the socket was down
  });
  socket.addEventListener("message", onEvent);
  socket.addEventListener("close", () => {
    byId("live").classList.remove("on");
    setTimeout(() => listen(true), 2000);
  });
}

function showError(error) {
  byId("counts").textContent = `Cannot read the captured mail: ${error.message}`;
}

// -- wiring -------------------------------------------------------------------

function start() {
  const params = new URLSearchParams(location.search);
  state.query = params.get("q") || "";
  const input = byId("query");
  input.value = state.query;
  let typing = null;
  input.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => search(input.value), 250);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      clearTimeout(typing);
      search(input.value);
    }
  });
  byId("more").addEventListener("click", () => loadList(true).catch(showError));
  byId("back").addEventListener("click", closeMessage);
  byId("delete").addEventListener("click", () => deleteCurrent().catch(showError));
  byId("delete-all").addEventListener("click", askDeleteAll);
  byId("confirm-no").addEventListener("click", () => byId("confirm").close());
  byId("confirm-yes").addEventListener("click", () => deleteAll().catch(showError));
  byId("remote").addEventListener("click", () => {
    state.remote = !state.remote;
    const message = { ID: state.current, HTML: true };
    showFrame(message);
  });
  for (const button of document.querySelectorAll(".tabs button")) {
    button.addEventListener("click", () => selectTab(button.dataset.tab));
  }
  for (const choice of document.querySelectorAll('input[name="raw"]')) {
    choice.addEventListener("change", () => {
      state.raw = choice.value;
      showRaw().catch(showError);
    });
  }
  selectTab("html");
  loadList(false)
    .then(() => {
      const id = location.hash.slice(1);
      if (/^\d+$/.test(id)) return openMessage(id);
    })
    .catch(showError);
  listen(false);
}

function search(text) {
  state.query = text.trim();
  const params = state.query ? `?q=${encodeURIComponent(state.query)}` : "";
  history.replaceState(null, "", `${location.pathname}${params}${location.hash}`);
  loadList(false).catch(showError);
}

document.addEventListener("DOMContentLoaded", start);

// The chat page: plain JavaScript, no build step, no dependencies.
//
// The nickname lives in the `nickname` cookie, which the browser sends with the WebSocket
// handshake; the server reads it in `on_open`. The page keeps the rooms it joined and, when the
// connection drops, reconnects with exponential backoff and jitter and joins them again.
"use strict";

(() => {
  const BASE_DELAY_MS = 500;
  const MAX_DELAY_MS = 15000;
  const MAX_LINES_PER_ROOM = 500;
  const DEFAULT_ROOM = "lobby";

  const $ = (selector) => document.querySelector(selector);

  const state = {
    wsUrl: null,
    ws: null,
    attempt: 0,
    timer: null,
    // Set when the page closes the socket on purpose (new nickname): reconnect at once.
    reconnectNow: false,
    nickname: null,
    // Rooms the user is in, in the order joined; rejoined after every reconnect.
    joined: [],
    // room -> { lines: [...], seen: Set of message keys, unread: n }
    rooms: new Map(),
    active: null,
  };

  // --- cookie ----------------------------------------------------------------------------

  function readCookie(name) {
    for (const part of document.cookie.split(";")) {
      const [key, ...value] = part.trim().split("=");
      if (key === name) {
        try {
          return decodeURIComponent(value.join("="));
        } catch {
          return null;
        }
      }
    }
    return null;
  }

  function writeNickname(nickname) {
    const maxAge = 60 * 60 * 24 * 365;
    document.cookie =
      `nickname=${encodeURIComponent(nickname)}; path=/; max-age=${maxAge}; SameSite=Strict`;
  }

  // --- connection ------------------------------------------------------------------------

  function setStatus(status, text) {
    const element = $("#status");
    element.dataset.state = status;
    element.textContent = text || status;
  }

  async function configure() {
    const response = await fetch("/chat/config", { cache: "no-store" });
    if (!response.ok) throw new Error(`GET /chat/config: ${response.status}`);
    const config = await response.json();
    if (config.ws_url) return config.ws_url;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${location.hostname}:${config.ws_port}${config.ws_path}`;
  }

  async function connect() {
    clearTimeout(state.timer);
    state.timer = null;
    setStatus("connecting", "connecting…");
    try {
      state.wsUrl = state.wsUrl || (await configure());
    } catch (error) {
      console.warn("chat: no config yet", error);
      scheduleReconnect();
      return;
    }
    const ws = new WebSocket(state.wsUrl);
    state.ws = ws;
    ws.addEventListener("open", () => {
      state.attempt = 0;
      setStatus("online");
      // What the handshake agreed on (permessage-deflate, normally), for the element inspector.
      $("#status").dataset.extensions = ws.extensions;
      for (const room of state.joined) send({ type: "join", room });
    });
    ws.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      receive(message);
    });
    ws.addEventListener("close", () => {
      if (state.ws !== ws) return;
      state.ws = null;
      if (state.reconnectNow) {
        state.reconnectNow = false;
        connect();
        return;
      }
      for (const room of state.joined) {
        addLine(room, { kind: "error", text: "connection lost", ts: Date.now() });
      }
      scheduleReconnect();
    });
  }

  // Exponential backoff with "equal jitter": half the delay fixed, half random, so a server
  // restart is not met by every page at the same instant.
  function scheduleReconnect() {
    const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** state.attempt);
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    state.attempt = Math.min(state.attempt + 1, 16);
    setStatus("reconnecting", `reconnecting in ${(delay / 1000).toFixed(1)} s`);
    clearTimeout(state.timer);
    state.timer = setTimeout(connect, delay);
  }

  function send(message) {
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return false;
    state.ws.send(JSON.stringify(message));
    return true;
  }

  // --- messages from the server ----------------------------------------------------------

  function receive(message) {
    switch (message.type) {
      case "welcome":
        state.nickname = message.nickname;
        $("#me").textContent = message.nickname;
        break;
      case "history":
        for (const line of message.messages) addMessage(line);
        break;
      case "message":
        addMessage(message);
        break;
      case "notice":
        addLine(message.room, {
          kind: "notice", text: message.text, ts: message.ts, event: message.event,
        });
        break;
      case "error":
        addLine(state.active, { kind: "error", text: message.text, ts: Date.now() });
        break;
    }
  }

  function addMessage(message) {
    addLine(message.room, {
      kind: message.system ? "system" : "message",
      key: `${message.id}@${message.ts}`,
      from: message.from,
      text: message.text,
      ts: message.ts,
    });
  }

  // --- rooms -----------------------------------------------------------------------------

  function room(name) {
    if (!state.rooms.has(name)) {
      state.rooms.set(name, { lines: [], seen: new Set(), unread: 0 });
    }
    return state.rooms.get(name);
  }

  // Inserts a line in time order; a message seen before (live and again in a history) is
  // dropped by its key.
  function addLine(name, line) {
    if (!name || !state.joined.includes(name)) return;
    const target = room(name);
    if (line.key) {
      if (target.seen.has(line.key)) return;
      target.seen.add(line.key);
    }
    let index = target.lines.length;
    while (index > 0 && target.lines[index - 1].ts > line.ts) index -= 1;
    target.lines.splice(index, 0, line);
    if (target.lines.length > MAX_LINES_PER_ROOM) target.lines.shift();
    if (name === state.active) {
      renderLog();
    } else if (line.kind === "message" || line.kind === "system") {
      target.unread += 1;
      renderRooms();
    }
  }

  function join(name) {
    if (!state.joined.includes(name)) {
      state.joined.push(name);
      room(name);
      send({ type: "join", room: name });
    }
    activate(name);
  }

  function leave(name) {
    send({ type: "leave", room: name });
    state.joined = state.joined.filter((r) => r !== name);
    state.rooms.delete(name);
    if (state.active === name) state.active = state.joined[0] || null;
    render();
  }

  function activate(name) {
    state.active = name;
    if (name) room(name).unread = 0;
    render();
  }

  // --- rendering (textContent only: nothing from the network becomes markup) --------------

  function render() {
    renderRooms();
    renderLog();
  }

  function renderRooms() {
    const list = $("#rooms");
    list.replaceChildren(
      ...state.joined.map((name) => {
        const item = document.createElement("li");
        item.dataset.room = name;
        item.classList.toggle("active", name === state.active);
        const open = document.createElement("button");
        open.type = "button";
        open.className = "open";
        open.textContent = `#${name}`;
        open.addEventListener("click", () => activate(name));
        item.append(open);
        const unread = room(name).unread;
        if (unread > 0) {
          const badge = document.createElement("span");
          badge.className = "unread";
          badge.textContent = String(unread);
          item.append(badge);
        }
        const close = document.createElement("button");
        close.type = "button";
        close.className = "leave";
        close.title = `leave #${name}`;
        close.textContent = "×";
        close.addEventListener("click", () => leave(name));
        item.append(close);
        return item;
      }),
    );
  }

  function renderLog() {
    const log = $("#log");
    const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 40;
    $("#room-title").textContent = state.active ? `#${state.active}` : "join a room";
    const lines = state.active ? room(state.active).lines : [];
    log.replaceChildren(...lines.map(renderLine));
    if (stick) log.scrollTop = log.scrollHeight;
  }

  function renderLine(line) {
    const item = document.createElement("li");
    item.className = `line ${line.kind}`;
    if (line.kind === "message" && line.from === state.nickname) item.classList.add("mine");
    if (line.event) item.dataset.event = line.event;
    const time = document.createElement("time");
    const date = new Date(line.ts);
    time.dateTime = date.toISOString();
    time.textContent = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    item.append(time);
    if (line.from) {
      const from = document.createElement("span");
      from.className = "from";
      from.textContent = line.from;
      item.append(from);
    }
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = line.text;
    item.append(text);
    return item;
  }

  // --- start -----------------------------------------------------------------------------

  function enter(nickname) {
    $("#login").hidden = true;
    $("#app").hidden = false;
    $("#rename").hidden = false;
    $("#me").textContent = nickname;
    if (state.joined.length === 0) join(DEFAULT_ROOM);
    $("#message-input").focus();
    if (state.ws) {
      // A new nickname needs a new handshake: the server reads the cookie once, on open.
      state.reconnectNow = true;
      state.ws.close(1000, "nickname changed");
    } else if (!state.timer) {
      connect();
    }
  }

  function showLogin() {
    $("#app").hidden = true;
    $("#login").hidden = false;
    $("#nickname-input").value = readCookie("nickname") || "";
    $("#nickname-input").focus();
  }

  $("#nickname-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const nickname = $("#nickname-input").value.trim();
    if (!nickname) return;
    writeNickname(nickname);
    enter(nickname);
  });

  $("#rename").addEventListener("click", showLogin);

  $("#join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("#join-input");
    const name = input.value.trim();
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(name)) return;
    input.value = "";
    join(name);
  });

  $("#send-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("#message-input");
    const text = input.value.trim();
    if (!text || !state.active) return;
    if (send({ type: "message", room: state.active, text })) {
      input.value = "";
    } else {
      addLine(state.active, { kind: "error", text: "offline: not sent", ts: Date.now() });
    }
  });

  // Back online or back to the tab: do not wait out the backoff.
  const retrySoon = () => {
    if (!state.ws && state.timer && $("#app").hidden === false) connect();
  };
  window.addEventListener("online", retrySoon);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") retrySoon();
  });

  const saved = readCookie("nickname");
  if (saved && saved.trim()) {
    enter(saved.trim());
  } else {
    showLogin();
  }
})();

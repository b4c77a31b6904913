// The Socket.IO chat page: plain JavaScript, no build step; `io` is the official
// socket.io-client bundle the app serves from /static/vendor/.
//
// The nickname goes in the CONNECT `auth`; the server answers an empty one with
// `connect_error`, shown under the form. Messages are sent with an acknowledgement: a line of
// one's own stays "sending…" until the server's ack marks it delivered.
"use strict";

(() => {
  const DEFAULT_ROOM = "lobby";
  const ACK_TIMEOUT_MS = 10000;
  const MAX_LINES = 500;

  const $ = (selector) => document.querySelector(selector);

  const state = {
    socket: null,
    // The room the server put this socket in; joined again after a reconnect.
    room: null,
    nickname: null,
    nextLocalId: 1,
  };

  function setStatus(status, text) {
    const element = $("#status");
    element.dataset.state = status;
    element.textContent = text || status;
  }

  function addLine(kind, parts) {
    const log = $("#log");
    const line = document.createElement("li");
    line.className = `line ${kind}`;
    for (const [name, text] of parts) {
      const span = document.createElement("span");
      span.className = name;
      // textContent, never innerHTML: whatever users send stays text.
      span.textContent = text;
      line.append(span);
    }
    log.append(line);
    while (log.children.length > MAX_LINES) log.firstElementChild.remove();
    log.scrollTop = log.scrollHeight;
    return line;
  }

  function showLogin(error) {
    $("#app").hidden = true;
    $("#login").hidden = false;
    $("#login-error").textContent = error || "";
    $("#nickname-input").focus();
  }

  function showChat() {
    $("#login").hidden = true;
    $("#app").hidden = false;
    $("#me").textContent = state.nickname;
    $("#message-input").focus();
  }

  function join(room) {
    state.socket.timeout(ACK_TIMEOUT_MS).emit("join", room, (timedOut, answer) => {
      if (timedOut) return addLine("error", [["text", `joining #${room} timed out`]]);
      if (answer.error) return addLine("error", [["text", answer.error]]);
      state.room = answer.room;
      $("#room-title").textContent = `#${answer.room}`;
      const others = answer.members - 1;
      addLine("info", [["text", `${others} other${others === 1 ? "" : "s"} in #${answer.room}`]]);
    });
  }

  function say(text) {
    if (!state.room) return addLine("error", [["text", "join a room first"]]);
    const line = addLine("message mine pending", [
      ["from", state.nickname],
      ["text", text],
      ["state", "sending…"],
    ]);
    line.dataset.localId = String(state.nextLocalId++);
    const mark = (outcome, label) => {
      line.classList.replace("pending", outcome);
      line.querySelector(".state").textContent = label;
    };
    state.socket.timeout(ACK_TIMEOUT_MS).emit("say", { text }, (timedOut, answer) => {
      if (timedOut) return mark("failed", "not delivered (no answer)");
      if (answer.error) return mark("failed", `not delivered: ${answer.error}`);
      mark("delivered", "✓ delivered");
    });
  }

  function connectSocket(url) {
    const socket = io(url, {
      // Only the WebSocket transport: the page comes from the `http` server, another origin
      // than Socket.IO's, and polling from there would need `cors_origins` in the config.
      transports: ["websocket"],
      // Read at every connect, so a retry after a refusal, or a reconnect, sends the nickname
      // typed last.
      auth: (send) => send({ nickname: state.nickname }),
    });
    state.socket = socket;

    socket.on("connect", () => {
      setStatus("online");
      showChat();
      join(state.room || DEFAULT_ROOM);
    });

    socket.on("connect_error", (error) => {
      if (socket.active) {
        // A network failure: the client retries by itself.
        setStatus("connecting", "reconnecting…");
        return;
      }
      // Refused by `on_connect`: only a new nickname helps.
      setStatus("refused");
      showLogin(`refused: ${error.message}`);
    });

    socket.on("disconnect", (reason) => {
      setStatus(socket.active ? "connecting" : "offline", socket.active ? "reconnecting…" : "offline");
      addLine("error", [["text", `disconnected (${reason})`]]);
      if (!socket.active) showLogin(`disconnected: ${reason}`);
    });

    // A socket is in one room at a time, so whatever arrives is about the room shown (a join
    // notice may come before the join's acknowledgement).
    socket.on("notice", (notice) => addLine("notice", [["text", notice.text]]));
    socket.on("message", (message) =>
      addLine("message", [["from", message.from], ["text", message.text]]));
  }

  async function socketUrl() {
    const response = await fetch("/chat/config", { cache: "no-store" });
    if (!response.ok) throw new Error(`GET /chat/config: ${response.status}`);
    const config = await response.json();
    if (config.socketio_url) return config.socketio_url;
    // The page comes from the `http` server, Socket.IO from the `ws` server's port.
    return `${location.protocol}//${location.hostname}:${config.ws_port}`;
  }

  $("#nickname-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    // Sent as typed, even empty: the server decides, and its refusal is shown.
    state.nickname = $("#nickname-input").value.trim();
    setStatus("connecting", "connecting…");
    if (state.socket) {
      state.socket.connect();
      return;
    }
    try {
      connectSocket(await socketUrl());
    } catch (error) {
      setStatus("offline");
      showLogin(`cannot reach the server: ${error.message}`);
    }
  });

  $("#join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const room = $("#join-input").value.trim();
    if (!room) return;
    $("#join-input").value = "";
    join(room);
  });

  $("#send-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("#message-input").value.trim();
    if (!text) return;
    $("#message-input").value = "";
    say(text);
  });

  showLogin();
})();

// Connection state recovery, driven by the stock `socket.io-client` and its own reconnection.
//
// Usage: node recovery_client.js URL_A URL_B MODE [TRANSPORTS] [PID_A]
//
// A room member `a` connects to URL_A, a speaker `b` to URL_B. `a` loses its transport (its
// TCP connection is cut without a close frame), and while it is away `b` says three
// things in the room. `a`'s manager reconnects by itself, to URL_B when MODE is `other` (the
// node behind a load balancer changed), to URL_A otherwise.
//   same, other: `a` must come back with `recovered === true`, its old id, and the three
//                messages once each, in order, then hear what is said live.
//   crash:       as `other`, but the transport is lost because node A is killed (SIGKILL to
//                PID_A): the session survives in the broker, written when `a` joined.
//   expired:     the client comes back after the session's lifetime: `recovered === false`,
//                a new id, nothing replayed.
// TRANSPORTS `default` lets `a` open with HTTP long-polling and upgrade (the client's default
// options), so its session is a polling one carried by a WebSocket; otherwise WebSocket only.
// Then a client that names a session nobody knows must connect afresh. Prints `ok`.
"use strict";

const assert = require("node:assert/strict");
const { io } = require("socket.io-client");

const TIMEOUT = 10000;

let transports = { transports: ["websocket"] };

function connect(url, extra = {}) {
  return new Promise((resolve, reject) => {
    const socket = io(url, {
      ...transports,
      timeout: TIMEOUT,
      reconnectionDelay: 200,
      reconnectionDelayMax: 200,
      randomizationFactor: 0,
      ...extra,
    });
    socket.said = [];
    socket.on("event", (text, offset) => socket.said.push({ text, offset }));
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

async function until(what, check) {
  const deadline = Date.now() + TIMEOUT;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function main() {
  const [urlA, urlB, mode, how, pidA] = process.argv.slice(2);
  if (how === "default") transports = {};
  const room = `recovery-${process.pid}`;
  const call = (socket, ...args) => socket.timeout(TIMEOUT).emitWithAck(...args);

  const a = await connect(urlA, mode === "expired" ? { reconnectionDelay: 3000, reconnectionDelayMax: 3000 } : {});
  const b = await connect(urlB, { reconnection: false });
  assert.equal(a.recovered, false, "a first connection is not recovered");
  await call(a, "join-room", room);
  await call(b, "join-room", room);
  await until("a to hear b join", () => a.said.some((m) => m.text === `${b.id} has joined ${room}`));
  const joined = a.said.find((m) => m.text === `${b.id} has joined ${room}`);
  assert.equal(typeof joined.offset, "string", "a room emit carries its offset");
  const oldId = a.id;
  if (how === "default") {
    await until("the upgrade to WebSocket", () => a.io.engine.transport.name === "websocket");
  }

  a.said.length = 0;
  const back = new Promise((resolve) => a.once("connect", resolve));
  const gone = new Promise((resolve) => a.once("disconnect", resolve));
  // The manager reconnects to its `uri`: pointing it at the other node is what a load balancer
  // that sends the new connection elsewhere does.
  if (mode === "other" || mode === "crash") a.io.uri = urlB;
  if (mode === "crash") {
    process.kill(Number(pidA), "SIGKILL");
  } else {
    // As a dropped network does: the TCP connection goes without a close frame.
    a.io.engine.transport.ws.terminate();
  }
  const reason = await gone;
  assert.ok(["transport close", "transport error"].includes(reason), `a lost its transport: ${reason}`);
  for (const message of ["m1", "m2", "m3"]) {
    await call(b, "say", { room, message });
  }
  await back;

  if (mode === "expired") {
    assert.equal(a.recovered, false, "a session past its lifetime is not recovered");
    assert.notEqual(a.id, oldId, "a fresh session has a new id");
    await sleep(300);
    assert.deepEqual(a.said, [], "nothing is replayed to a fresh session");
  } else {
    assert.equal(a.recovered, true, "the session is recovered");
    assert.equal(a.id, oldId, "the recovered socket keeps its id");
    await until("the missed messages", () => a.said.length >= 3);
    await sleep(300);
    const texts = a.said.map((m) => m.text);
    assert.deepEqual(texts, ["m1", "m2", "m3"].map((m) => `${b.id} say: ${m}`), "missed messages, once, in order");
    const offsets = a.said.map((m) => m.offset);
    assert.ok(offsets.every((o) => typeof o === "string"), "replayed messages carry offsets");
    // Live again: its room is back.
    a.said.length = 0;
    await call(b, "say", { room, message: "live" });
    await until("the live message", () => a.said.length >= 1);
    assert.equal(a.said[0].text, `${b.id} say: live`);
  }

  // A session nobody knows: the client is let in afresh.
  const stranger = io(mode === "crash" ? urlB : urlA, { transports: ["websocket"], reconnection: false, autoConnect: false });
  stranger._pid = "no-such-session";
  stranger._lastOffset = "0";
  await new Promise((resolve, reject) => {
    stranger.once("connect", resolve);
    stranger.once("connect_error", reject);
    stranger.connect();
  });
  assert.equal(stranger.recovered, false, "an unknown session connects afresh");
  assert.ok(stranger.id, "and gets an id");

  stranger.close();
  a.close();
  b.close();
  console.log("ok");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

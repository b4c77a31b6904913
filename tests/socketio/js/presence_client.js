// Checks the seed app's presence across three nodes with the stock `socket.io-client`.
//
// Usage: node presence_client.js WS_A WS_B WS_C HTTP_A HTTP_B PID_B PID_C LEASE_MS TIMEOUT_MS
//
// Tracks a socket on nodes A and B in one room and checks that each client gets every
// `presence` change once, wherever it happened; that `/socketio/presence?room=` lists both
// members with their node, rooms and metadata on either node; that a disconnect is a `leave`.
// Then B's next member, on long-polling this time, is tracked, and node B is killed with
// SIGKILL: its member is gone from node A's listing within the lease plus one request timeout,
// and announced gone (a `leave`) once B's lease expired. Last, node C, with a member too, is
// stopped (SIGSTOP: alive to the broker, answering nothing): node A's listing still answers,
// without C's member, within one request timeout, and at once again after C's lease expired,
// when its member is announced gone too. Prints `ok`; any mismatch exits non-zero with the
// reason.
"use strict";

const assert = require("node:assert/strict");
const { io } = require("socket.io-client");

const TIMEOUT = 10000;
const options = { transports: ["websocket"], reconnection: false, timeout: TIMEOUT };
const ROOM = "presence-room";

function connect(url, transports = ["websocket"]) {
  return new Promise((resolve, reject) => {
    const socket = io(url, { ...options, transports });
    const queues = { event: [], presence: [] };
    const waiters = { event: [], presence: [] };
    for (const name of Object.keys(queues)) {
      socket.on(name, (data) => {
        const waiter = waiters[name].shift();
        if (waiter) waiter(data);
        else queues[name].push(data);
      });
    }
    socket.next = (name) =>
      new Promise((res, rej) => {
        if (queues[name].length) return res(queues[name].shift());
        const timer = setTimeout(() => rej(new Error(`no ${name} in time`)), TIMEOUT);
        waiters[name].push((data) => {
          clearTimeout(timer);
          res(data);
        });
      });
    socket.queues = queues;
    socket.on("connect", () => resolve(socket));
    socket.on("connect_error", reject);
  });
}

const call = (socket, ...args) => socket.timeout(TIMEOUT).emitWithAck(...args);

async function track(socket, name) {
  assert.equal(await call(socket, "track", { name }), "tracked");
  socket.emit("join-room", ROOM);
  // The joiner is told the room's size once it is in.
  for (;;) {
    const said = await socket.next("event");
    if (said.startsWith("There are")) return;
  }
}

function assertChange(change, kind, socket, name) {
  assert.equal(change.kind, kind, JSON.stringify(change));
  assert.equal(change.room, ROOM);
  assert.equal(change.namespace, "/");
  assert.equal(change.socket_id, socket.id);
  assert.deepEqual(change.meta, { name });
}

async function presence(http) {
  const response = await fetch(`${http}/socketio/presence?room=${ROOM}`);
  assert.equal(response.status, 200);
  return response.json();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const [wsA, wsB, wsC, httpA, httpB, pidB, pidC, leaseMs, timeoutMs] = process.argv.slice(2);
  const [lease, timeout] = [Number(leaseMs), Number(timeoutMs)];
  const a = await connect(wsA);
  const b = await connect(wsB);

  await track(a, "ann");
  assertChange(await a.next("presence"), "join", a, "ann");

  await track(b, "bob");
  // Node A heard of bob's join through the broker and told its member; node B told its own.
  assertChange(await a.next("presence"), "join", b, "bob");
  assertChange(await b.next("presence"), "join", b, "bob");

  for (const http of [httpA, httpB]) {
    const members = await presence(http);
    assert.equal(members.length, 2, JSON.stringify(members));
    const byId = Object.fromEntries(members.map((m) => [m.id, m]));
    assert.deepEqual(byId[a.id].meta, { name: "ann" });
    assert.deepEqual(byId[b.id].meta, { name: "bob" });
    assert.ok(byId[a.id].rooms.includes(ROOM) && byId[a.id].rooms.includes(a.id));
    assert.ok(byId[a.id].node > 0 && byId[b.id].node > 0);
    assert.notEqual(byId[a.id].node, byId[b.id].node, "one member per node");
  }

  // A disconnect is a leave, with the metadata of who left.
  const bobId = b.id;
  b.disconnect();
  const left = await a.next("presence");
  assert.equal(left.kind, "leave");
  assert.equal(left.socket_id, bobId);
  assert.deepEqual(left.meta, { name: "bob" });

  // Long-polling, never upgraded: a polling session is tracked like a WebSocket one.
  const c = await connect(wsB, ["polling"]);
  await track(c, "cat");
  assertChange(await a.next("presence"), "join", c, "cat");
  assertChange(await c.next("presence"), "join", c, "cat");
  assert.equal((await presence(httpA)).length, 2);

  // Node B dies without a word: its member leaves node A's listing within the lease (and the
  // one request to B that times out meanwhile), and node A announces it gone once B's lease
  // expired.
  const catId = c.id;
  process.kill(Number(pidB), "SIGKILL");
  const killed = Date.now();
  const bound = lease + timeout + 3000;
  for (;;) {
    const members = await presence(httpA);
    if (members.length === 1) {
      assert.equal(members[0].id, a.id);
      break;
    }
    assert.ok(Date.now() - killed < bound, `node B's member still listed: ${JSON.stringify(members)}`);
    await sleep(200);
  }
  console.log(`node B's member gone after ${Date.now() - killed} ms`);
  const catLeft = await a.next("presence");
  assert.equal(catLeft.kind, "leave", JSON.stringify(catLeft));
  assert.equal(catLeft.socket_id, catId);
  assert.deepEqual(catLeft.meta, { name: "cat" });
  console.log(`node B's member announced gone after ${Date.now() - killed} ms`);
  assert.ok(Date.now() - killed < bound, "the leave of a crashed node's member came late");

  // A node that stops answering is left out after one request timeout, then not asked at all
  // once its lease expired. (Node B's lease first runs out: until then the seed's `join-room`,
  // which counts the room with `room_size`, fails on the node that cannot answer.)
  await sleep(lease + 500);
  const d = await connect(wsC);
  await track(d, "dan");
  assertChange(await a.next("presence"), "join", d, "dan");
  assert.equal((await presence(httpA)).length, 2);
  const danId = d.id;
  process.kill(Number(pidC), "SIGSTOP");
  const stopped = Date.now();
  let members = await presence(httpA);
  console.log(`listing with node C stopped took ${Date.now() - stopped} ms`);
  assert.deepEqual(members.map((m) => m.id), [a.id]);
  assert.ok(Date.now() - stopped < timeout + 3000, "a stopped node held the listing up");
  await sleep(lease);
  for (;;) {
    const asked = Date.now();
    members = await presence(httpA);
    assert.deepEqual(members.map((m) => m.id), [a.id]);
    if (Date.now() - asked < timeout / 2) break;
    assert.ok(Date.now() - stopped < lease + 2 * timeout + 3000, "node C still asked past its lease");
  }
  console.log(`node C no longer asked after ${Date.now() - stopped} ms`);
  const danLeft = await a.next("presence");
  assert.equal(danLeft.kind, "leave", JSON.stringify(danLeft));
  assert.equal(danLeft.socket_id, danId);
  process.kill(Number(pidC), "SIGKILL");

  // Exactly once: nothing more reached ann than the changes checked above.
  await sleep(300);
  assert.deepEqual(a.queues.presence, [], "no duplicate presence change");
  a.disconnect();
  c.disconnect();
  console.log("ok");
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);

// Drives the seed app's Socket.IO namespace with the stock `socket.io-client` over HTTP
// long-polling.
//
// Usage: node polling_client.js MODE URL_A URL_B
//
// MODE `default`: client A uses the client's defaults (`io(url)`: polling, then the upgrade to
// WebSocket), and must end up upgraded. MODE `polling`: client A may only poll
// (`transports: ["polling"]`, a network that blocks WebSocket) and must stay on polling.
// Client B (at URL_B) uses the client's defaults too in `default` mode, WebSocket only in
// `polling` mode, so a polling client and a WebSocket client share a room. Checks the ack of
// `event`, the binary `echo`, `join-room` and `say` between A and B, then prints `ok`.
"use strict";

const assert = require("node:assert/strict");
const { io } = require("socket.io-client");

const TIMEOUT = 10000;

function connect(url, transports) {
  return new Promise((resolve, reject) => {
    const options = { reconnection: false, timeout: TIMEOUT };
    if (transports) options.transports = transports;
    const socket = io(url, options);
    const inbox = [];
    const waiters = [];
    socket.on("event", (data) => {
      const waiter = waiters.shift();
      if (waiter) waiter(data);
      else inbox.push(data);
    });
    socket.next = () =>
      new Promise((res, rej) => {
        if (inbox.length) return res(inbox.shift());
        const timer = setTimeout(() => rej(new Error("no event in time")), TIMEOUT);
        waiters.push((data) => {
          clearTimeout(timer);
          res(data);
        });
      });
    socket.inbox = inbox;
    socket.on("connect", () => resolve(socket));
    socket.on("connect_error", reject);
  });
}

/// Resolves once `socket`'s Engine.IO transport is `name`, or fails after TIMEOUT.
async function transportBecomes(socket, name) {
  const deadline = Date.now() + TIMEOUT;
  while (socket.io.engine.transport.name !== name) {
    if (Date.now() > deadline) {
      throw new Error(`transport stayed ${socket.io.engine.transport.name}, wanted ${name}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function main() {
  const [mode, urlA, urlB] = process.argv.slice(2);
  assert.ok(mode === "default" || mode === "polling", `unknown mode ${mode}`);
  const a = await connect(urlA, mode === "polling" ? ["polling"] : undefined);
  const b = await connect(urlB, mode === "polling" ? ["websocket"] : undefined);
  // A default client starts on polling and is offered the upgrade in the open packet.
  if (mode === "default") {
    await transportBecomes(a, "websocket");
    await transportBecomes(b, "websocket");
  }
  const room = `${mode}-room`;
  const call = (socket, ...args) => socket.timeout(TIMEOUT).emitWithAck(...args);

  assert.equal(await call(a, "event", "hello"), "Event Received: hello");

  const blob = Buffer.from([...Array(256).keys()]);
  const echoed = await new Promise((resolve, reject) => {
    a.timeout(TIMEOUT).emit("echo", "text", blob, { n: 1 }, (err, ...args) =>
      err ? reject(err) : resolve(args),
    );
  });
  assert.equal(echoed[0], "text");
  assert.ok(Buffer.from(echoed[1]).equals(blob), "binary echoed unchanged");
  assert.deepEqual(echoed[2], { n: 1 });

  await call(b, "join-room", room);
  assert.equal(await b.next(), `There are 1 players in ${room}`);
  await call(a, "join-room", room);
  assert.equal(await b.next(), `${a.id} has joined ${room}`);
  assert.equal(await a.next(), `There are 2 players in ${room}`);

  await call(a, "say", JSON.stringify({ room, message: "hi all" }));
  assert.equal(await b.next(), `${a.id} say: hi all`);
  await call(b, "say", JSON.stringify({ room, message: "hi back" }));
  assert.equal(await a.next(), `${b.id} say: hi back`);
  assert.equal(a.inbox.length, 0, "the sender heard its own say");

  if (mode === "polling") {
    assert.equal(a.io.engine.transport.name, "polling", "a polling-only client upgraded");
  }
  a.close();
  b.close();
  console.log("ok");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

// Drives the seed app's Socket.IO namespace with the stock `socket.io-client`.
//
// Usage: node seed_client.js URL_A URL_B
//
// Connects a joiner to URL_A and a listener to URL_B (one node, or two nodes of a cluster),
// checks every string of the seed's events, the binary echo and the refusal of an unknown
// namespace, then prints `ok`. Any mismatch exits non-zero with the reason.
"use strict";

const assert = require("node:assert/strict");
const { io } = require("socket.io-client");

const TIMEOUT = 10000;
const options = { transports: ["websocket"], reconnection: false, timeout: TIMEOUT };

function connect(url) {
  return new Promise((resolve, reject) => {
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

async function main() {
  const [urlA, urlB] = process.argv.slice(2);
  const a = await connect(urlA);
  const b = await connect(urlB);
  const room = "node-room";
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
  assert.equal(a.inbox.length, 0, "the sender heard its own say");

  const invalid = await call(a, "say", { room: 5 });
  assert.ok(invalid && invalid.error, `a bad payload is answered with an error: ${JSON.stringify(invalid)}`);

  const refusal = await new Promise((resolve) => {
    const other = io(`${urlA}/nope`, options);
    other.on("connect", () => resolve("connected"));
    other.on("connect_error", (err) => {
      other.close();
      resolve(err.message);
    });
  });
  assert.equal(refusal, "Invalid namespace");

  a.close();
  b.close();
  console.log("ok");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

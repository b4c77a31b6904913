// Deletes the JetStream streams (and KV buckets, which are streams `KV_<name>`) whose names start
// with a prefix, so that each run of scripts/perf-recovery-storm.sh, which has a prefix of its own,
// leaves nothing behind. Speaks the NATS text protocol itself: no NATS package is installed.
//
// Usage: node nats-delete-streams.js nats://HOST:PORT PREFIX
"use strict";

const net = require("node:net");

const [url, prefix] = process.argv.slice(2);
if (!url || !prefix) {
  console.error("usage: node nats-delete-streams.js nats://HOST:PORT PREFIX");
  process.exit(2);
}
const { hostname, port } = new URL(url);
const socket = net.connect(Number(port) || 4222, hostname);
// The whole exchange is a handful of requests; a server that does not answer must not hold the
// script's exit.
setTimeout(() => {
  console.error("nats-delete-streams: no answer within 10 s");
  process.exit(1);
}, 10000).unref();

let buffer = Buffer.alloc(0);
let waiting = null;
socket.on("data", (chunk) => {
  buffer = Buffer.concat([buffer, chunk]);
  for (;;) {
    const end = buffer.indexOf("\r\n");
    if (end < 0) return;
    const line = buffer.subarray(0, end).toString();
    if (line.startsWith("MSG ")) {
      const size = Number(line.split(" ").pop());
      if (buffer.length < end + 2 + size + 2) return;
      const payload = buffer.subarray(end + 2, end + 2 + size).toString();
      buffer = buffer.subarray(end + 2 + size + 2);
      if (waiting) waiting(payload);
      continue;
    }
    buffer = buffer.subarray(end + 2);
    if (line === "PING") socket.write("PONG\r\n");
    else if (line.startsWith("-ERR")) {
      console.error(`nats-delete-streams: ${line}`);
      process.exit(1);
    }
  }
});

function request(subject, body) {
  return new Promise((resolve) => {
    waiting = (payload) => resolve(JSON.parse(payload));
    socket.write(`PUB ${subject} _INBOX.perfclean ${Buffer.byteLength(body)}\r\n${body}\r\n`);
  });
}

socket.once("connect", async () => {
  socket.write('CONNECT {"verbose":false,"pedantic":false}\r\nSUB _INBOX.perfclean 1\r\n');
  const names = [];
  for (let offset = 0; ; ) {
    const page = await request("$JS.API.STREAM.NAMES", JSON.stringify({ offset }));
    const streams = page.streams || [];
    names.push(...streams);
    offset += streams.length;
    if (streams.length === 0 || offset >= (page.total || 0)) break;
  }
  const ours = names.filter((name) => name.startsWith(`${prefix}_`) || name.startsWith(`KV_${prefix}_`));
  for (const name of ours) await request(`$JS.API.STREAM.DELETE.${name}`, "");
  console.error(`nats-delete-streams: deleted ${ours.length} stream(s) of ${prefix}`);
  socket.end();
  process.exit(0);
});

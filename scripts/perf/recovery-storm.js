// The reconnect storm of scripts/perf-recovery-storm.sh, driven by the stock `socket.io-client`
// (tests/socketio/js/node_modules, installed by .ci/install.d/node-socketio.sh).
//
// Usage: node recovery-storm.js --a URL --b URL [--a-pid PID] [--clients N] [--rooms R]
//          [--messages K] [--cut terminate|sigterm] [--timeout SECS] [--broker NAME]
//
// N clients connect to node A and join R rooms (client i joins room i % R); a speaker is on
// node B. Then every client loses A at once: either its TCP connection is cut without a close
// frame (`terminate`, as a dropped network does) or A is stopped with SIGTERM (`sigterm`, a
// rolling deploy). Every manager is pointed at B first, as a load balancer that sends the new
// connection elsewhere would. While they are away the speaker says K messages into each room.
// Measured: from the cut until each client is connected again and whether it recovered; then
// each client must have its room's K messages exactly once, in order. Prints a table and a
// JSON line; exits 1 if a client did not recover or a message check failed.
"use strict";

const path = require("node:path");
const { performance } = require("node:perf_hooks");
const { io } = require(path.resolve(__dirname, "../../tests/socketio/js/node_modules/socket.io-client"));

function parseArgs(argv) {
  const opts = { clients: 5000, rooms: 50, messages: 3, cut: "terminate", timeout: 120, broker: "?" };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, "").replace(/-(.)/g, (_, c) => c.toUpperCase());
    if (!(key in opts) && !["a", "b", "aPid", "bPid"].includes(key)) throw new Error(`unknown option ${argv[i]}`);
    opts[key] = typeof opts[key] === "number" ? Number(argv[i + 1]) : argv[i + 1];
  }
  if (!opts.a || !opts.b) throw new Error("--a and --b are required");
  if (opts.cut === "sigterm" && !opts.aPid) throw new Error("--cut sigterm needs --a-pid");
  return opts;
}

// Realistic but not slow: the client's defaults are 1000 / 5000 / 0.5. The randomization is what
// spreads a real storm, so it stays.
const RECONNECT = { reconnectionDelay: 500, reconnectionDelayMax: 5000, randomizationFactor: 0.5 };
// Connections opened at once while setting up: a burst of thousands of SYNs overflows the
// listen backlog and stalls in retransmits, which would measure the setup, not the server.
const SETUP_CONCURRENCY = 200;
const ACK_TIMEOUT = 20000;

// CPU seconds of a local process so far, from /proc (user + system, in clock ticks of 1/100 s).
function cpuSeconds(pid) {
  try {
    const stat = require("node:fs").readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function connect(url, extra) {
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports: ["websocket"], forceNew: true, timeout: ACK_TIMEOUT, ...extra });
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => {
      socket.close();
      reject(err);
    });
  });
}

async function pool(count, limit, task) {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, count) }, async () => {
    while (next < count) await task(next++);
  });
  await Promise.all(workers);
}

async function until(deadline, check) {
  while (!check() && performance.now() < deadline) await sleep(20);
  return check();
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const deadline = performance.now() + opts.timeout * 1000;
  const roomOf = (i) => `storm-${process.pid}-${i % opts.rooms}`;

  const speaker = await connect(opts.b, { reconnection: false });
  const said = `${speaker.id} say: `;
  const clients = new Array(opts.clients);
  const setupStart = performance.now();
  await pool(opts.clients, SETUP_CONCURRENCY, async (i) => {
    const socket = await connect(opts.a, RECONNECT);
    const client = { socket, room: roomOf(i), heard: [], lost: null, back: null, recovered: null, oldId: socket.id };
    // Only the speaker's messages: the joins of the other members are not what is checked.
    socket.on("event", (text) => {
      if (typeof text === "string" && text.startsWith(said)) client.heard.push(text.slice(said.length));
    });
    await socket.timeout(ACK_TIMEOUT).emitWithAck("join-room", client.room);
    clients[i] = client;
  });
  const setupSecs = (performance.now() - setupStart) / 1000;
  // The joins' `has joined` notices are still being delivered; they must not count as the storm.
  await sleep(1000);

  let cut = null;
  for (const client of clients) {
    client.socket.io.uri = opts.b;
    client.socket.once("disconnect", (reason) => {
      client.lost = reason;
    });
    client.socket.once("connect", () => {
      client.back = performance.now() - cut;
      client.recovered = client.socket.recovered;
    });
  }
  const serverCpuBefore = cpuSeconds(opts.bPid);
  const clientCpuBefore = process.cpuUsage();
  cut = performance.now();
  if (opts.cut === "sigterm") {
    process.kill(Number(opts.aPid), "SIGTERM");
  } else {
    for (const client of clients) client.socket.io.engine.transport.ws.terminate();
  }

  // The speaker's rounds go one after the other so that each room's messages are said in order.
  const firstBack = () => Math.min(...clients.map((c) => (c.back === null ? Infinity : c.back)));
  for (let k = 0; k < opts.messages; k++) {
    await Promise.all(
      Array.from({ length: opts.rooms }, (_, r) =>
        speaker.timeout(ACK_TIMEOUT).emitWithAck("say", { room: roomOf(r), message: `m${k}` }),
      ),
    );
  }
  const saidAt = performance.now() - cut;
  const saidBeforeFirstBack = saidAt < firstBack();

  await until(deadline, () => clients.every((c) => c.back !== null));
  const allBack = performance.now() - cut;
  // Who the storm's time went to: on a shared machine a client process that was busy the whole
  // time means the figures are the client's, not the server's.
  const serverCpuMs = Math.round((cpuSeconds(opts.bPid) - serverCpuBefore) * 1000);
  const clientCpu = process.cpuUsage(clientCpuBefore);
  const clientCpuMs = Math.round((clientCpu.user + clientCpu.system) / 1000);
  const expected = Array.from({ length: opts.messages }, (_, k) => `m${k}`);
  // A message replayed twice would arrive right behind the first copy; wait for it to show.
  await until(Math.min(deadline, performance.now() + 10000), () =>
    clients.every((c) => c.heard.length >= expected.length),
  );
  await sleep(500);

  const back = clients.filter((c) => c.back !== null);
  const recovered = back.filter((c) => c.recovered === true && c.socket.id === c.oldId);
  const times = recovered.map((c) => c.back).sort((x, y) => x - y);
  const check = { exact: 0, missing: 0, duplicated: 0, outOfOrder: 0 };
  for (const c of clients) {
    const heard = c.heard;
    if (heard.length === expected.length && heard.every((m, k) => m === expected[k])) check.exact++;
    else if (new Set(heard).size < heard.length) check.duplicated++;
    else if (heard.length < expected.length) check.missing++;
    else check.outOfOrder++;
  }
  const reasons = {};
  for (const c of clients) reasons[c.lost] = (reasons[c.lost] || 0) + 1;
  const result = {
    clients: opts.clients,
    broker: opts.broker,
    cut: opts.cut,
    rooms: opts.rooms,
    messagesPerRoom: opts.messages,
    setupSecs: Number(setupSecs.toFixed(1)),
    disconnectReasons: reasons,
    reconnected: back.length,
    recovered: recovered.length,
    notRecovered: opts.clients - recovered.length,
    p50Ms: Math.round(percentile(times, 50)),
    p99Ms: Math.round(percentile(times, 99)),
    allRecoveredMs: recovered.length === opts.clients ? Math.round(times[times.length - 1]) : null,
    allBackMs: Math.round(allBack),
    speakerDoneMs: Math.round(saidAt),
    nodeBCpuMs: serverCpuMs,
    clientCpuMs,
    speakerDoneBeforeFirstReconnect: saidBeforeFirstBack,
    messageCheck: check,
    reconnection: RECONNECT,
  };

  const ok = result.recovered === opts.clients && check.exact === opts.clients;
  const rows = [
    ["clients", `${opts.clients} (${opts.rooms} rooms; set up in ${result.setupSecs} s)`],
    ["broker", opts.broker],
    ["cut", opts.cut === "sigterm" ? "node A stopped with SIGTERM" : "every transport cut at once (no close frame)"],
    ["disconnect reasons", JSON.stringify(reasons)],
    ["reconnection options", JSON.stringify(RECONNECT)],
    ["time to all recovered", result.allRecoveredMs === null ? `not all (${allBack.toFixed(0)} ms waited)` : `${result.allRecoveredMs} ms`],
    ["per-client reconnect p50 / p99", `${result.p50Ms} ms / ${result.p99Ms} ms`],
    ["CPU from the cut to the last reconnect", `node B ${serverCpuMs} ms, this client process ${clientCpuMs} ms`],
    ["recovered", `${recovered.length} / ${opts.clients} (reconnected ${back.length})`],
    ["missed messages", `${opts.messages} per room, said by ${result.speakerDoneMs} ms${saidBeforeFirstBack ? ", all before the first reconnect" : ""}`],
    ["missed-message check", `${check.exact} exactly once in order; ${check.missing} missing, ${check.duplicated} duplicated, ${check.outOfOrder} out of order`],
  ];
  console.log("| | |\n|---|---|");
  for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
  console.log(`RESULT ${JSON.stringify(result)}`);

  speaker.close();
  for (const c of clients) c.socket.close();
  process.exit(ok ? 0 : 1);
}

main().catch((err) => {
  console.error("recovery-storm:", err);
  process.exit(2);
});

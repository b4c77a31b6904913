// `ws-cli perf --deflate-refs-dir DIR`'s Node reference: `ws` 8 with permessage-deflate on,
// echoing on any path and broadcasting to everyone on `/room`. `scripts/perf-deflate.sh` copies
// it next to `node_modules/ws`, where node resolves it.
//
// Settings: no server context takeover, as the framework's default, and the framework's
// threshold (128 bytes; `ws` defaults to 1024, which would leave a 300-byte message
// uncompressed). Everything else is `ws`'s default, as an application would run it (zlib's
// default level).
'use strict';
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2]);
const room = new Set();
const server = new WebSocketServer({
  host: '127.0.0.1',
  port,
  maxPayload: 16 << 20,
  perMessageDeflate: { serverNoContextTakeover: true, threshold: 128 },
});
server.on('connection', (socket, request) => {
  if (request.url.startsWith('/room')) {
    room.add(socket);
    socket.on('close', () => room.delete(socket));
    socket.on('message', (data, isBinary) => {
      for (const member of room) member.send(data, { binary: isBinary });
    });
  } else {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  }
});

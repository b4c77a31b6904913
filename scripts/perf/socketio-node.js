// Node's socket.io 4.8 answering the events of the seed example's Socket.IO namespace `/`: the
// Node reference of `ws-cli perf --only sio-ack,sio-room`. scripts/perf-socketio.sh copies it
// next to its `socket.io` install, where node resolves the package.
//
// Usage: node socketio-node.js PORT
'use strict';
const http = require('http');
const { Server } = require('socket.io');

const port = Number(process.argv[2]);
const httpServer = http.createServer();
// The WebSocket transport only, as the framework serves it; no compression, as the framework's
// Socket.IO default.
const io = new Server(httpServer, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
});

io.on('connection', (socket) => {
  // Acknowledges with its arguments unchanged.
  socket.on('echo', (...args) => {
    const ack = args.pop();
    if (typeof ack === 'function') ack(...args);
  });
  // Joins the room; the other members hear of it, the joiner learns how many are in it.
  socket.on('join-room', (room) => {
    socket.join(room);
    socket.to(room).emit('event', `${socket.id} has joined ${room}`);
    const players = io.of('/').adapter.rooms.get(room)?.size ?? 0;
    socket.emit('event', `There are ${players} players in ${room}`);
  });
  // Tells the other members of the room what the sender says.
  socket.on('say', (data) => {
    const say = typeof data === 'string' ? JSON.parse(data) : data;
    socket.to(say.room).emit('event', `${socket.id} say: ${say.message}`);
  });
});

httpServer.listen(port, '127.0.0.1');

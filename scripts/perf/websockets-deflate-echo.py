"""`ws-cli perf --deflate-refs-dir DIR`'s Python reference: `websockets` with its defaults
(permessage-deflate on with a 12-bit window; context takeover unless the client asks for none,
as `ws-cli bench --deflate` does), echoing on any path and broadcasting to everyone on `/room`. `scripts/perf-deflate.sh` installs `websockets` into
DIR/venv and copies this file next to it.
"""

import asyncio
import sys

from websockets.asyncio.server import broadcast, serve

ROOM = set()


async def handler(socket):
    if socket.request.path.startswith("/room"):
        ROOM.add(socket)
        try:
            async for message in socket:
                broadcast(ROOM, message)
        finally:
            ROOM.discard(socket)
    else:
        async for message in socket:
            await socket.send(message)


async def main(port):
    async with serve(handler, "127.0.0.1", port, max_size=16 << 20, ping_interval=None):
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))

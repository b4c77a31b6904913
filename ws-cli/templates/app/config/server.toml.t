# The servers of {{name}} (Hyperf's `config/autoload/server.php`): WebSocket on 9502, HTTP on 9501.
# Environment overrides (also read from `.env`): WS_SERVER_<NAME>_PORT, WS_SERVER_<NAME>_HOST,
# WS_CLUSTER_URL, WS_LOG_LEVEL, WS_LOG_FORMAT. `cargo run -- config` prints the result.

[[servers]]
name = "ws"
type = "websocket"
host = "0.0.0.0"
port = 9502

[[servers]]
name = "http"
type = "http"
host = "0.0.0.0"
port = 9501

# One node keeps its connections in memory; point several nodes at one Redis or NATS to let a
# push reach a connection held by any of them: redis://127.0.0.1:6379, nats://127.0.0.1:4222.
[cluster]
url = "memory://"

# Copy to `.env` (`cp .env.example .env`): `cargo run` reads it, and variables already set win.
# WS_SERVER_WS_PORT=9502
# WS_SERVER_HTTP_PORT=9501
# WS_SERVER_WS_HOST=127.0.0.1
# WS_CLUSTER_URL=redis://127.0.0.1:6379
# WS_LOG_LEVEL=info
# WS_LOG_FORMAT=json

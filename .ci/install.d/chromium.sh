#!/usr/bin/env bash
# Headless Chromium for tests/chat_browser.rs and tests/socketio_chat_browser.rs: Debian's package, never a downloaded browser build.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
echo "installing chromium (for the browser test)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core
/usr/bin/chromium --version

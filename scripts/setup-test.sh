#!/usr/bin/env bash
# Installs what the test suite needs: the package with its test extras, and Debian's Chromium
# (browser tests drive it through Playwright; Playwright's own browser downloads are not used).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'
if ! command -v chromium >/dev/null 2>&1 || ! command -v rg >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium ripgrep >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium ripgrep >/dev/null
  fi
fi

#!/usr/bin/env bash
# One-command set-up for a fresh machine: Debian packages the tests need, a virtualenv
# in .venv, and gert installed editable with every extra the test suite uses.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(postgresql)   # Debian packages the suite needs: a real PostgreSQL for the sql tool
apt_packages+=(poppler-utils fonts-dejavu-core)   # pdftoppm checks postmortem PDFs; a Unicode font to render them
apt_packages+=(busybox)   # governance tests: a denied command must not run through busybox
apt_packages+=(bubblewrap)   # the cli step sandbox (bwrap); tests/test_sandbox.py runs it for real
apt_packages+=(chromium chromium-driver)   # gert serve in a real browser: tests/test_browser.py
apt_packages+=(tmux)   # gert tui in a real terminal: tests/test_tui.py
apt_packages+=(redis-server)   # the broker of gert worker: tests/test_workers.py starts its own
apt_packages+=(prometheus)   # a real Prometheus (and promtool) for the promql tool: tests/test_query_tools.py
command -v node >/dev/null 2>&1 || apt_packages+=(nodejs)   # the YAML language server test
command -v npm >/dev/null 2>&1 || apt_packages+=(npm)
if [ ${#apt_packages[@]} -gt 0 ]; then
  missing=()
  for p in "${apt_packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
  fi
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
# An editable install ships no bytecode; compile it as a wheel install would, so start-up
# is not spent compiling gert's sources (matters where PYTHONDONTWRITEBYTECODE is set).
.venv/bin/python -m compileall -q src
# The real YAML language server, which tests/test_editor_schema.py drives to prove the
# exported JSON Schema works in editors.
if [ ! -x .venv/npm/node_modules/.bin/yaml-language-server ]; then
  npm install --silent --no-audit --no-fund --prefix .venv/npm yaml-language-server@2.0.0 >/dev/null
fi
# Real Mermaid (its own parser, in Node with jsdom), which tests/test_diagram.py runs on
# every diagram gert emits.
if [ ! -d .venv/npm/node_modules/mermaid ] || [ ! -d .venv/npm/node_modules/jsdom ]; then
  npm install --silent --no-audit --no-fund --prefix .venv/npm mermaid@11.17.2 jsdom@26.1.0 >/dev/null
fi
# The example incident: a SQLite database of synthetic login failures and incident 747870160.
.venv/bin/python examples/create_example_data.py
echo "gert is set up: .venv/bin/gert --help"

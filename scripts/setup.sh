#!/usr/bin/env bash
# One-command set-up for a fresh machine: Debian packages the tests need, a virtualenv
# in .venv, and gert installed editable with every extra the test suite uses.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=()   # Debian packages the suite needs (none yet for the language core)
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
echo "gert is set up: .venv/bin/gert --help"

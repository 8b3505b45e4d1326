#!/usr/bin/env bash
# One entry point for newcomers and CI: installs what alsate needs (system
# packages, a virtual environment in .venv, the project itself) and then runs
# the app or the test suite. Idempotent: a second call only checks and runs.
#
#   ./bootstrap.sh run [ALSATE-TUI ARGS...]   set up, then start alsate-tui
#   ./bootstrap.sh test [PYTEST ARGS...]      set up, then run the whole test suite
#   ./bootstrap.sh setup                      set up only
set -euo pipefail
cd "$(dirname "$0")"

SYSTEM_PACKAGES=(libsystemd-dev pkg-config nginx systemd-journal-remote systemd tmux lnav)
VENV=${ALSATE_VENV:-.venv}
PYTHON=${PYTHON:-python3}

say() { printf 'bootstrap: %s\n' "$*" >&2; }

install_system_packages() {
    local missing=()
    for pkg in "${SYSTEM_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing system packages: ${missing[*]}"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    # policy-rc.d keeps the Debian nginx package from starting a system-wide server.
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

LLAMA_VERSION=0.3.36
# A portable llama.cpp build: GGML_NATIVE would tune to this CPU and pip would cache that wheel, which
# then dies with "Illegal instruction" on another CPU (or on one that hides AMX/AVX-512 from a VM).
case "$(uname -m)" in
    x86_64) LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON" ;;
    *) LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF" ;;
esac

llama_wheel_dir() {
    local key
    key=$(printf '%s %s %s' "$LLAMA_VERSION" "$(uname -m)" "$LLAMA_CMAKE_ARGS" | sha256sum | cut -c1-12)
    echo "${XDG_CACHE_HOME:-$HOME/.cache}/alsate-wheels/llama-$key"
}

build_llama_wheel() {
    local dir
    dir=$(llama_wheel_dir)
    if ! ls "$dir"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
        say "compiling llama-cpp-python $LLAMA_VERSION once (portable build, a few minutes)"
        mkdir -p "$dir"
        CMAKE_ARGS="$LLAMA_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
            "$VENV/bin/python" -m pip wheel -q --no-deps --no-cache-dir "llama-cpp-python==$LLAMA_VERSION" -w "$dir"
    fi
    echo "$dir"
}

install_python_env() {
    local stamp="$VENV/.alsate-installed" want
    want=$( (cat pyproject.toml setup.py; echo "$LLAMA_VERSION $LLAMA_CMAKE_ARGS") | sha256sum | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    say "installing alsate and its dependencies into $VENV (llama-cpp-python compiles once, a few minutes)"
    "$VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel
    local wheels
    wheels=$(build_llama_wheel)
    "$VENV/bin/python" -m pip install -q --find-links "$wheels" "llama-cpp-python==$LLAMA_VERSION"
    # torch is pinned to the CPU build this machine kind keeps on disk (plain `torch` pulls a CUDA build).
    "$VENV/bin/python" -m pip install -q "torch==2.13.0"
    "$VENV/bin/python" -m pip install -q --find-links "$wheels" -e '.[dev,train]'
    echo "$want" > "$stamp"
}

cmd=${1:-run}
[ $# -gt 0 ] && shift
install_system_packages
install_python_env
case "$cmd" in
    setup) ;;
    run) exec "$VENV/bin/alsate-tui" "$@" ;;
    test) exec "$VENV/bin/python" -m pytest "$@" ;;
    *) say "unknown command '$cmd' (use run, test or setup)"; exit 2 ;;
esac

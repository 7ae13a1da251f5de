# Sourced by the end-to-end tests that talk to drip with Python's httpx and httpx-sse (from PyPI):
# makes the virtual environment .build/peers-venv once and sets $peers_python to its interpreter.
peers_venv="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/.build/peers-venv"
if ! "$peers_venv/bin/python" -c 'import httpx, httpx_sse' 2>/dev/null; then
    python3 -m venv "$peers_venv"
    "$peers_venv/bin/pip" install -q httpx httpx-sse
fi
peers_python="$peers_venv/bin/python"

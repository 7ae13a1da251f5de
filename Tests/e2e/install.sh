#!/usr/bin/env bash
# scripts/install into a temporary prefix: the binary runs, `man -w` finds drip(1), drip-serve(1)
# and drip-script(5), the pages render, and the completion scripts are there (bash parses).
#   Tests/e2e/install.sh PATH/TO/drip   (the argument is unused: the install builds its own)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
prefix="$(mktemp -d)"
trap 'rm -rf "$prefix"' EXIT
fail() { echo "install: FAILED: $*"; exit 1; }
"$root/scripts/install" "$prefix" > /dev/null
"$prefix/bin/drip" --version > /dev/null || fail "the installed binary does not run"
for page in drip drip-serve drip-connect drip-run drip-decode; do
    MANPATH="$prefix/share/man" man -w "$page" | grep -q "$prefix/share/man/man1/$page.1" || fail "man -w $page does not find the page"
done
MANPATH="$prefix/share/man" man -w 5 drip-script | grep -q "$prefix/share/man/man5/drip-script.5" || fail "man -w 5 drip-script"
MANPATH="$prefix/share/man" MANWIDTH=80 man drip-script 2>/dev/null | grep -q 'expect-not' || fail "drip-script(5) does not render its commands"
bash -n "$prefix/share/bash-completion/completions/drip" || fail "the bash completion does not parse"
[ -s "$prefix/share/zsh/site-functions/_drip" ] && [ -s "$prefix/share/fish/vendor_completions.d/drip.fish" ] || fail "zsh or fish completion missing"
echo "install: ok"

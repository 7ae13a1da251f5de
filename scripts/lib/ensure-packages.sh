# Sourced by scripts/drip and scripts/test: installs the Debian packages drip needs when missing,
# with one `apt-get update` and one `apt-get install` for all of them.
#
#   ensure_packages ITEM...   ITEM is a package (checked with dpkg), or COMMAND:PACKAGE for a tool
#                             that counts as present when COMMAND is on the PATH (however installed).
ensure_packages() {
    local missing=()
    local item command package
    for item in "$@"; do
        if [[ "$item" == *:* ]]; then
            command="${item%%:*}"
            package="${item#*:}"
            command -v "$command" >/dev/null 2>&1 && continue
        else
            package="$item"
            dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' && continue
        fi
        missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=()
    [ "$(id -u)" -ne 0 ] && sudo=(sudo)
    echo "installing ${missing[*]}…" >&2
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

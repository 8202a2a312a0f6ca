# SPDX-License-Identifier: ISC
# The Debian packages needed to build bothost, run its tests and run ./demo,
# and how to install the missing ones. Sourced by tests/run and ./demo (bash).

packages=(build-essential autoconf automake libtool pkg-config
	libev-dev libcjson-dev check libircclient-dev libinih-dev libssl-dev libsqlite3-dev ngircd
	libmicrohttpd-dev curl openssl valgrind python3)

# Install what is missing, with sudo unless already root.
install_deps() {
	local missing=()
	for p in "${packages[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	local sudo=()
	[ "$(id -u)" -eq 0 ] || sudo=(sudo)
	echo "==> installing: ${missing[*]}"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

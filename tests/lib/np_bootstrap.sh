# np_bootstrap.sh: shared by ./tests/run and ./examples/lab/demo.
# Installs the Debian packages that are missing (only as root, via apt-get),
# then configures and builds natpunch with CMake. Source it, then call
#   np_ensure_packages [extra packages...]
#   np_build [build-dir] [extra cmake args...]     (sets NP_BUILD_DIR)

NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
NP_PACKAGES="build-essential cmake pkg-config libev-dev liblua5.4-dev libsodium-dev libcmocka-dev
 libinih-dev libsystemd-dev scdoc systemd
 nftables iproute2 conntrack iputils-ping tcpdump iperf3 clang libclang-rt-14-dev procps
 libssl-dev zlib1g-dev coturn openssl iptables libnetfilter-queue-dev"

np_ensure_packages() {
	local missing=() p
	for p in $NP_PACKAGES "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "np_bootstrap: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
		return 1
	fi
	echo "np_bootstrap: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/np_apt.$$.log 2>&1; then
		apt-get update -q >/tmp/np_apt.$$.log 2>&1 || true
		apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/np_apt.$$.log 2>&1 || {
			echo "np_bootstrap: apt-get install failed, see /tmp/np_apt.$$.log" >&2
			tail -5 /tmp/np_apt.$$.log >&2
			return 1
		}
	fi
	rm -f /tmp/np_apt.$$.log
}

np_build() {
	NP_BUILD_DIR=${1:-$NP_SOURCE_DIR/build}
	shift || true
	export NP_BUILD_DIR
	mkdir -p "$NP_BUILD_DIR"
	local log=$NP_BUILD_DIR/np-build.log
	cmake -S "$NP_SOURCE_DIR" -B "$NP_BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$log" 2>&1 ||
		{ cat "$log" >&2; return 1; }
	cmake --build "$NP_BUILD_DIR" -j"$(nproc)" >>"$log" 2>&1 ||
		{ grep -E 'error|Error' "$log" | head -30 >&2; return 1; }
}

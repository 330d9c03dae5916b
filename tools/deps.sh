#!/usr/bin/env bash
# Checks the Debian packages msmvm needs to build and test, installs the missing ones when
# run as root, and otherwise prints the exact apt-get line and fails.
set -euo pipefail

packages=(
  make gcc libc6-dev pkg-config           # host C toolchain
  clang llvm                              # clang -target bpf, llvm-strip
  libbpf-dev bpftool                      # loader library, skeletons
  libelf-dev zlib1g-dev                   # libbpf's own dependencies
  libdeflate-dev                          # msmvm-trace: compressing the trace (zlib: reading it)
  dwarves                                 # pahole: the model's BTF
  libjson-c-dev                           # JSON summaries and their parsing in tests
  jq xz-utils procps libxml2-utils        # test scripts (xmllint: the tune SVG), BTF fixtures
  mandoc                                  # tests/man.sh: mandoc -T lint on the man pages
  libncurses-dev tmux                     # msmvmtop, and driving it in tests
  protobuf-compiler                       # tests decode msmvm-trace's files with protoc
  libmicrohttpd-dev libcap-ng-dev         # msmvm-alert: /metrics over HTTP, dropping capabilities
  prometheus curl                         # tests: promtool check metrics, fetching /metrics
  bash-completion                         # tests/completion.sh: the helpers the completion uses
  libclang-rt-dev                         # make fuzz: clang's libFuzzer and sanitizer runtimes
  bpftrace                                # make bench: the bpftrace script msmvm is compared with
  qemu-system-x86 gcc-12                  # the x86 guest (tools/guest): TCG, and the kernel's compiler
  kmod                                    # modprobe/insmod/rmmod for the tests in the guest
  debian-archive-keyring                  # tools/guest/fetch, tools/cross/sysroot: package checks
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross  # make arm64: the cross compiler and its glibc
  qemu-user-static                        # tests/arm64/smoke.sh only: runs the arm64 tools here
  qemu-system-arm                         # the arm64 guests (make test-arm64, make bench): TCG
  build-essential dpkg-dev debhelper      # make deb: dpkg-buildpackage and debian/rules
  lintian debootstrap                     # make deb's check; tests/deb.sh's bookworm chroot
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

line="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "msmvm: missing Debian packages: ${missing[*]}" >&2
  echo "msmvm: run as root:  apt-get update && $line" >&2
  exit 1
fi
echo "msmvm: installing missing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
    >"$log" 2>&1; then
  cat "$log" >&2
  echo "msmvm: installing ${missing[*]} failed (log above)" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"

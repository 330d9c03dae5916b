#!/bin/bash
# Regenerate tests/fixtures/btf/debian-<ver>-arm64.btf.xz: real arm64 vmlinux BTF
# merged with msm.ko's split BTF, one raw BTF file per kernel, for CO-RE tests.
#
# Usage (as root, from anywhere):  tools/make-btf-fixtures.sh
# Environment:
#   BTFMERGE  btfmerge binary (default: build/tools/btfmerge in the repo)
#   OUTDIR    where to write the fixtures (default: tests/fixtures/btf in the repo)
#   DEB_DIR   directory already holding the .deb files: skip the download
#   KEEP_TMP  set to 1 to keep the work directory for inspection
#   ONLY      one version of those below: regenerate that fixture alone
#
# Packages come from the machine's own Debian mirror via a private apt state
# (see docs/btf.md), so the host's apt configuration is untouched.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BTFMERGE=${BTFMERGE:-$ROOT/build/tools/btfmerge}
OUTDIR=${OUTDIR:-$ROOT/tests/fixtures/btf}

# Kernel version -> packages holding its Image and msm.ko (7.x splits them in two).
# 6.12 (Debian 12 and 13's kernel) has msm without VM_BIND: the "predates VM_BIND" fixture.
declare -A PKGS=(
	[6.12.117]="linux-image-6.12.117+deb12-arm64-unsigned"
	[6.17.13]="linux-image-6.17.13+deb13-arm64"
	[7.2.13]="linux-binary-7.2.13+deb14-arm64 linux-modules-7.2.13+deb14-arm64"
)
VERSIONS=(6.12.117 6.17.13 7.2.13)
if [[ -n ${ONLY:-} ]]; then	# ONLY=VERSION: that fixture alone
	[[ -n ${PKGS[$ONLY]:-} ]] || { echo "make-btf-fixtures: ONLY=$ONLY: not one of ${VERSIONS[*]}" >&2; exit 2; }
	VERSIONS=("$ONLY")
fi

die() { echo "make-btf-fixtures: $*" >&2; exit 1; }
log() { echo "make-btf-fixtures: $*" >&2; }

[[ $(id -u) -eq 0 ]] || die "run as root (apt-get download with a private state and dpkg-deb need it)"
for t in apt-get apt-cache dpkg-deb xz find; do
	command -v "$t" >/dev/null || die "missing tool: $t"
done
# Resolve before any cd so a relative $BTFMERGE means relative to the caller's cwd.
BTFMERGE=$(realpath -e "$BTFMERGE" 2>/dev/null) || die "btfmerge not found (build it, or set BTFMERGE)"
[[ -x $BTFMERGE ]] || die "$BTFMERGE is not executable"
mkdir -p "$OUTDIR"
OUTDIR=$(realpath "$OUTDIR")
[[ -z ${DEB_DIR:-} ]] || DEB_DIR=$(realpath -e "$DEB_DIR")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/msmvm-btf.XXXXXX")
if [[ ${KEEP_TMP:-0} == 1 ]]; then
	trap 'log "work directory kept: $WORK"' EXIT
else
	trap 'rm -rf "$WORK"' EXIT
fi

all_pkgs=()
for v in "${VERSIONS[@]}"; do
	read -ra p <<<"${PKGS[$v]}"
	all_pkgs+=("${p[@]}")
done

debs=$WORK/debs
mkdir -p "$debs"
if [[ -n ${DEB_DIR:-} ]]; then
	for p in "${all_pkgs[@]}"; do
		f=$(compgen -G "$DEB_DIR/${p}_*_arm64.deb" | head -n1) || die "$DEB_DIR: no ${p}_*_arm64.deb"
		ln -s "$f" "$debs/"
	done
else
	# Private apt state (tools/apt-private.sh): the machine's own mirrors (bookworm-security
	# has 6.12) plus sid and trixie-backports, arm64.
	apt=$WORK/apt
	# shellcheck source=apt-private.sh
	. "$ROOT/tools/apt-private.sh"
	apt_private_setup "$apt" arm64 sid trixie-backports || die "no private apt state"
	log "updating private arm64 package lists"
	apt_private_update "$apt" "$WORK/apt-update.log" || die "apt-get update failed"
	o=()
	uri="the machine's mirrors"
	missing=()
	for p in "${all_pkgs[@]}"; do
		# apt-cache show exits 0 for unknown names on some apt versions: test its output.
		apt-cache "${o[@]}" show "$p" 2>/dev/null | grep -q '^Package:' || missing+=("$p")
	done
	if ((${#missing[@]})); then
		echo "make-btf-fixtures: these packages are no longer on $uri (+ sid, trixie-backports):" >&2
		printf '  %s\n' "${missing[@]}" >&2
		echo "Available arm64 kernel packages today:" >&2
		apt-cache "${o[@]}" search --names-only '^linux-(image|binary|modules)-[0-9].*-arm64$' |
			sort -V | sed 's/^/  /' >&2
		die "update VERSIONS/PKGS in $0 (and the fixture names the tests use)"
	fi
	log "downloading ${all_pkgs[*]}"
	(cd "$debs" && apt-get "${o[@]}" -q download "${all_pkgs[@]}") ||
		die "apt-get download failed"
fi

for v in "${VERSIONS[@]}"; do
	x=$WORK/x-$v
	mkdir -p "$x"
	read -ra p <<<"${PKGS[$v]}"
	for pkg in "${p[@]}"; do
		deb=$(compgen -G "$debs/${pkg}_*_arm64.deb" | head -n1) || die "no .deb for $pkg"
		log "$v: unpacking $(basename "$deb") ($(dpkg-deb -f "$deb" Version))"
		dpkg-deb -x "$deb" "$x"
	done
	# 6.17 ships boot/vmlinuz-*, 7.x usr/lib/modules/*/vmlinuz: both are an uncompressed Image.
	img=$(find "$x" -maxdepth 5 -name 'vmlinuz*' -type f \( -path "$x/boot/*" -o -path "$x/usr/lib/modules/*" \) |
		sort | head -n1)
	[[ -n $img ]] || die "$v: no vmlinuz in ${PKGS[$v]}"
	# modules under /usr/lib (7.x) or /lib (6.x)
	ko=$(find "$x/usr/lib/modules" "$x/lib/modules" -path '*/drivers/gpu/drm/msm/msm.ko*' -type f 2>/dev/null | head -n1 || true)
	[[ -n $ko ]] || die "$v: no msm.ko in ${PKGS[$v]}"
	case $ko in
	*.xz) xz -dc "$ko" >"$x/msm.ko" ;;
	*.zst) command -v zstd >/dev/null || die "$ko: zstd needed"; zstd -dcq "$ko" >"$x/msm.ko" ;;
	*.gz) gzip -dc "$ko" >"$x/msm.ko" ;;
	*) cp "$ko" "$x/msm.ko" ;;
	esac

	"$BTFMERGE" --extract-image "$img" -o "$x/vmlinux.btf" || die "$v: BTF extraction from $img failed"
	"$BTFMERGE" -o "$x/merged.btf" "$x/vmlinux.btf" "$x/msm.ko" || die "$v: merge failed"

	# Cheap guard against packaging changes producing a fixture without the msm types.
	if command -v bpftool >/dev/null; then
		bpftool btf dump file "$x/merged.btf" >"$x/dump.txt" || die "$v: bpftool cannot read merged BTF"
		wants=("STRUCT 'msm_gem_vm'" "STRUCT 'msm_vm_bind_job'" "FUNC 'msm_ioctl_vm_bind'")
		# before VM_BIND: msm's address spaces, no msm_gem_vm
		[[ $v == 6.12.* ]] && wants=("STRUCT 'msm_gem_address_space'" "STRUCT 'msm_gpu'")
		for want in "${wants[@]}"; do
			grep -q "^\[[0-9]*\] $want " "$x/dump.txt" || die "$v: merged BTF lacks $want"
		done
	fi

	out=$OUTDIR/debian-$v-arm64.btf.xz
	# -T1: single-threaded output is byte-for-byte reproducible.
	xz -9e -T1 -c "$x/merged.btf" >"$out.tmp" && mv "$out.tmp" "$out"
	log "$v: wrote $out ($(stat -c %s "$out") bytes; raw $(stat -c %s "$x/merged.btf"))"
	sha256sum "$out"
done

#!/usr/bin/env bash
# The Debian package (make deb, debian/): built (or a fresh one reused), lintian without
# errors, then installed with apt into a throwaway Debian chroot of the host's release
# (debootstrap --variant=minbase from the mirror the machine's apt sources name; the pristine
# chroot cached as $BUILD/deb-chroot/*.tar.gz, so later runs skip debootstrap), where every
# tool must print the package's version, msmvm-alert must accept the shipped config, the
# unit, man pages, completion and data files must be where they belong and msmvm-sim must
# keep its symbols and BTF; the packaged tools must count the packaged model exactly (on the
# host: uprobes need the kernel); then removed (the edited conffile stays) and purged
# (nothing of the package left). Where no mirror is reachable the chroot checks are skipped,
# with the reason.
# Env: MSMVM_DEB_REBUILD=1 builds even when build/deb/ holds a package newer than every source.
set -uo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
. tests/lib.sh

# The checks done in the chroot, one line each (skipped together when it cannot be made).
chroot_checks=(deb_chroot deb_install deb_versions deb_check_config deb_check_config_rejects
               deb_conffile deb_unit deb_man_pages deb_completion deb_data_files deb_sim_unstripped
               deb_tools_probe_packaged_model deb_remove_keeps_conffile deb_purge)
skip_chroot() {
  local c
  for c in "${chroot_checks[@]}"; do echo "skip $c # $1"; done
}

if [ "$(id -u)" -ne 0 ]; then
  echo "skip deb_build # needs root (the chroot, uprobes)"; echo "skip deb_lintian # needs root"
  skip_chroot "needs root"
  exit 0
fi
for c in dpkg-buildpackage lintian debootstrap chroot apt-get nm readelf jq; do
  command -v $c >/dev/null || { echo "not ok deb_tools # missing $c (tools/deps.sh installs it)"; exit 1; }
done

tmp=$(mktemp -d)
root=$tmp/root
cleanup() {
  # Nothing here mounts /proc in the chroot (apt and dpkg work without it); if one were left
  # mounted, rm -rf would reach the host's /proc: unmount first all the same.
  if mountpoint -q "$root/proc" 2>/dev/null; then umount "$root/proc"; fi
  [ -n "${stat_pid:-}" ] && kill "$stat_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

t0=$SECONDS
# --- the package: make deb, unless build/deb/ holds one newer than every source file ---
version=$(dpkg-parsechangelog -S Version)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
out=$B/deb
changes=$out/msmvm_${version}_$arch.changes
deb=$out/msmvm_${version}_$arch.deb
fresh=0
if [ "${MSMVM_DEB_REBUILD:-0}" != 1 ] && [ -f "$changes" ] && [ -f "$deb" ] &&
   git rev-parse --git-dir >/dev/null 2>&1; then
  newer=$(git ls-files -z -co --exclude-standard | find -files0-from - -newer "$changes" -print 2>&1 | head -n 3)
  [ -z "$newer" ] && fresh=1
fi
if [ $fresh = 1 ]; then
  pass deb_build "reused $deb (newer than every source; MSMVM_DEB_REBUILD=1 rebuilds)"
else
  s=$SECONDS
  # lintian runs below, on its own line: here only the build (DEB_LINTIAN=0)
  if make --no-print-directory deb BUILD="$B" DEB_LINTIAN=0 >"$tmp/build.log" 2>&1 && [ -f "$deb" ]; then
    pass deb_build "make deb in $((SECONDS - s)) s: $deb"
  else
    fail deb_build "make deb failed (or left no $deb):" "$(tail -n 20 "$tmp/build.log")"
    skip_chroot "no package"; echo "skip deb_lintian # no package"
    exit 1
  fi
fi

# --- lintian: no errors (warnings listed, as make deb shows them) ---
s=$SECONDS
lintian --fail-on error "$changes" >"$tmp/lintian.log" 2>&1
lrc=$?
errs=$(grep -c '^E:' "$tmp/lintian.log")
warns=$(grep '^W:' "$tmp/lintian.log" | sed 's/^W: [^:]*: //' | sort | uniq -c | sed 's/^ *//' | paste -sd ';' -)
if [ $lrc -eq 0 ] && [ "$errs" -eq 0 ]; then
  pass deb_lintian "no errors in $((SECONDS - s)) s; warnings: ${warns:-none}"
else
  fail deb_lintian "lintian exit $lrc, $errs errors:" "$(grep -E '^(E|W):' "$tmp/lintian.log")"
fi

# What the package is, from itself (not from the code that built it).
pkg_version=$(dpkg-deb -f "$deb" Version)
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$tmp/contents"
mapfile -t tools < <(grep -E '^/usr/s?bin/[^/]+$' "$tmp/contents")

# --- the chroot: the mirror, the cached pristine tree or debootstrap ---
# shellcheck source=../tools/apt-private.sh
. tools/apt-private.sh
codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
if [ -z "$codename" ]; then
  skip_chroot "no VERSION_CODENAME in /etc/os-release (not a Debian host)"; exit 0
fi
# Only Debian's own suites of this release: CODENAME, CODENAME-updates, CODENAME-security.
apt_private_mirrors | awk -v c="$codename" '$2 == c || index($2, c "-") == 1' | sort -u >"$tmp/mirrors"
mirror=$(awk -v c="$codename" '$2 == c { print $1; exit }' "$tmp/mirrors")
if [ -z "$mirror" ]; then
  skip_chroot "no '$codename' suite among the machine's apt sources"; exit 0
fi
# The host's settings for reaching its mirror (a proxy, a snapshot's expired Valid-Until).
apt_opts=()
eval "$(apt-config shell VU Acquire::Check-Valid-Until CD Acquire::Check-Date \
	HP Acquire::http::Proxy SP Acquire::https::Proxy)"
[ -n "${VU:-}" ] && apt_opts+=("Acquire::Check-Valid-Until \"$VU\";")
[ -n "${CD:-}" ] && apt_opts+=("Acquire::Check-Date \"$CD\";")
[ -n "${HP:-}" ] && apt_opts+=("Acquire::http::Proxy \"$HP\";") && export http_proxy=$HP
[ -n "${SP:-}" ] && apt_opts+=("Acquire::https::Proxy \"$SP\";") && export https_proxy=$SP

# net_err LOG: the log says the mirror could not be reached (then the checks are skipped)
net_err() {
  grep -qiE "couldn't download|failed getting release|couldn't get|unable to (connect|fetch|resolve)|temporary failure|could not (connect|resolve)|connection (failed|refused|timed out)" "$1"
}

in_root() {	# COMMAND...: in the chroot, with a plain environment
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"
}

cache=$B/deb-chroot/$codename-minbase.tar.gz
key="deb-chroot 3 $codename minbase $mirror $(dpkg-query -W -f '${Version}' debootstrap) $(cut -d' ' -f2 "$tmp/mirrors" | paste -sd, -)"
s=$SECONDS
if [ -f "$cache" ] && [ "$(cat "$cache.key" 2>/dev/null)" = "$key" ]; then
  mkdir -p "$root"
  if tar -C "$root" -xzf "$cache"; then
    pass deb_chroot "$codename from the cache ($cache) in $((SECONDS - s)) s"
  else
    fail deb_chroot "unpacking $cache failed"
    rm -f "$cache" "$cache.key"
    exit 1
  fi
else
  if ! debootstrap --variant=minbase "$codename" "$root" "$mirror" >"$tmp/debootstrap.log" 2>&1; then
    if net_err "$tmp/debootstrap.log"; then
      skip_chroot "debootstrap cannot reach $mirror: $(grep -iE 'E:|W:' "$tmp/debootstrap.log" | tail -n1)"
      exit 0
    fi
    fail deb_chroot "debootstrap $codename from $mirror failed:" "$(tail -n 15 "$tmp/debootstrap.log")"
    exit 1
  fi
  # The machine's suites of this release, its settings, their package lists: set up once,
  # before anything is installed, and cached with the tree.
  awk '{ print "deb", $1, $2, "main" }' "$tmp/mirrors" >"$root/etc/apt/sources.list"
  # (lists kept compressed, debootstrap's own dropped: a third of the cached tree otherwise)
  rm -rf "$root"/var/lib/apt/lists/*
  printf '%s\n' 'Acquire::GzipIndexes "true";' ${apt_opts[@]+"${apt_opts[@]}"} \
    >"$root/etc/apt/apt.conf.d/99host-acquire"
  if ! in_root apt-get -q update >"$tmp/update.log" 2>&1 ||
     grep -qE '^(W|E): (Failed to fetch|Some index files failed)' "$tmp/update.log"; then
    if net_err "$tmp/update.log"; then
      skip_chroot "apt-get update in the chroot cannot reach the mirror: $(grep -E '^(W|E):' "$tmp/update.log" | tail -n1)"
      exit 0
    fi
    fail deb_chroot "apt-get update in the new chroot failed:" "$(grep -E '^(W|E):' "$tmp/update.log" | tail -n 5)"
    exit 1
  fi
  in_root apt-get clean
  mkdir -p "$(dirname "$cache")"
  tar -C "$root" -czf "$cache.tmp.$$" . && mv "$cache.tmp.$$" "$cache" && echo "$key" >"$cache.key"
  pass deb_chroot "debootstrap --variant=minbase $codename from $mirror, cached, in $((SECONDS - s)) s"
fi

# --- install with apt: the Depends come from the mirror ---
s=$SECONDS
install -m 0644 "$deb" "$root/tmp/"
in_root apt-get -q update >"$tmp/update.log" 2>&1
before=$(in_root dpkg-query -W -f '${Package}\n' | sort)
if in_root apt-get -q -y install "/tmp/$(basename "$deb")" >"$tmp/install.log" 2>&1 &&
   [ "$(in_root dpkg-query -W -f '${Status} ${Version}' msmvm 2>/dev/null)" = "install ok installed $pkg_version" ]; then
  added=$(comm -13 <(echo "$before") <(in_root dpkg-query -W -f '${Package}\n' | sort) | grep -vx msmvm | paste -sd' ' -)
  pass deb_install "apt-get install in $((SECONDS - s)) s; from the mirror: ${added:-nothing}"
else
  if net_err "$tmp/install.log"; then	# the Depends could not be fetched
    for c in "${chroot_checks[@]:1}"; do
      echo "skip $c # apt-get install cannot reach the mirror: $(grep -E '^(W|E):' "$tmp/install.log" | tail -n1)"
    done
    exit 0
  fi
  fail deb_install "apt-get install of $(basename "$deb") failed:" "$(tail -n 20 "$tmp/install.log")"
  exit 1
fi

# --- every tool runs (its libraries resolved in the chroot) and prints the package's version ---
bad=()
for t in "${tools[@]}"; do
  got=$(in_root "$t" --version 2>&1 | head -n 1)
  [ "$got" = "$(basename "$t") $pkg_version" ] || bad+=("$t --version: '$got', want '$(basename "$t") $pkg_version'")
done
if [ ${#tools[@]} -gt 0 ] && [ ${#bad[@]} -eq 0 ]; then
  pass deb_versions "${#tools[@]} tools print $pkg_version: $(printf '%s ' "${tools[@]##*/}")"
else
  fail deb_versions "${bad[@]:-the package has no tools in /usr/bin or /usr/sbin}"
fi

# --- the service's config check, unprivileged as in ExecStartPre; and a bad config refused ---
conf=/etc/msmvm-alert.conf
msg=$(in_root /usr/sbin/msmvm-alert --config $conf --check-config 2>&1)
rc=$?
if [ $rc -eq 0 ] && cmp -s docs/msmvm-alert.conf.example "$root$conf"; then
  pass deb_check_config "msmvm-alert --config $conf --check-config: exit 0"
else
  fail deb_check_config "exit $rc (or $conf is not docs/msmvm-alert.conf.example):" "$msg"
fi
{ cat "$root$conf"; echo "stall = 200/oops"; } >"$root/tmp/bad.conf"
msg=$(in_root /usr/sbin/msmvm-alert --config /tmp/bad.conf --check-config 2>&1)
rc=$?
if [ $rc -eq 2 ]; then
  pass deb_check_config_rejects "a bad value: exit 2 ($(printf '%s' "$msg" | head -n 1))"
else
  fail deb_check_config_rejects "exit $rc for stall = 200/oops, want 2:" "$msg"
fi

# --- /etc/msmvm-alert.conf is a conffile ---
cf=$(in_root dpkg-query -W -f '${Conffiles}' msmvm | awk '{ print $1 }' | paste -sd' ' -)
if [ "$cf" = $conf ]; then pass deb_conffile "dpkg lists $conf as the conffile"
else fail deb_conffile "conffiles: '$cf', want '$conf'"; fi

# --- the unit: in /lib/systemd/system, its programs there, not enabled ---
unit=/lib/systemd/system/msmvm-alert.service
bad=()
if [ -f "$root$unit" ]; then
  grep -q '@[A-Z]*@' "$root$unit" && bad+=("unfilled @...@ in $unit: $(grep '@[A-Z]*@' "$root$unit")")
  progs=$(sed -n 's/^Exec[A-Za-z]*=[-@:+!]*\([^ ]*\).*/\1/p' "$root$unit" | sort -u)
  for p in $progs; do [ -x "$root$p" ] || bad+=("$unit runs $p, which is not in the chroot"); done
  grep -q "^ExecStart=/usr/sbin/msmvm-alert --config $conf\$" "$root$unit" ||
    bad+=("ExecStart is not /usr/sbin/msmvm-alert --config $conf")
  # (an enabled unit is a symlink in a .wants directory, to an absolute path: found by name)
  en=$(find "$root/etc/systemd" -name msmvm-alert.service 2>/dev/null)
  [ -n "$en" ] && bad+=("the unit was enabled on install: ${en//$root/}")
else
  bad+=("no $unit")
fi
if [ ${#bad[@]} -eq 0 ]; then pass deb_unit "$unit, runs $(echo $progs | tr ' ' ,), not enabled"
else fail deb_unit "${bad[@]}"; fi

# --- man pages, completion, data files: each one the tree has, where Debian looks for it ---
# (skipped while the tree has none: they come from docs/man, tools/completion, tools/prometheus
# and tools/grafana, through make install)
mapfile -t pages < <(ls docs/man/*.[1-8] 2>/dev/null)
if [ ${#pages[@]} -eq 0 ]; then
  echo "skip deb_man_pages # no man pages in docs/man in this tree"
else
  bad=()
  for m in "${pages[@]}"; do
    f=/usr/share/man/man${m##*.}/$(basename "$m").gz
    [ -f "$root$f" ] && gzip -dc "$root$f" | cmp -s - "$m" || bad+=("$m: no $f (or another text)")
  done
  for t in "${tools[@]}"; do
    ls "$root"/usr/share/man/man[18]/"$(basename "$t")".[18].gz >/dev/null 2>&1 || bad+=("$t has no man page")
  done
  if [ ${#bad[@]} -eq 0 ]; then pass deb_man_pages "${#pages[@]} pages under /usr/share/man, one for every tool"
  else fail deb_man_pages "${bad[@]}"; fi
fi
if [ ! -f tools/completion/msmvm ]; then
  echo "skip deb_completion # no tools/completion/msmvm in this tree"
else
  bad=()
  cdir=/usr/share/bash-completion/completions
  cmp -s tools/completion/msmvm "$root$cdir/msmvm" || bad+=("no $cdir/msmvm (or another text)")
  # bash-completion loads $cdir/NAME for the command NAME
  for t in "${tools[@]}"; do
    [ "$(readlink -f "$root$cdir/$(basename "$t")")" = "$(readlink -f "$root$cdir/msmvm")" ] ||
      bad+=("$cdir/$(basename "$t") does not lead to $cdir/msmvm")
  done
  if [ ${#bad[@]} -eq 0 ]; then pass deb_completion "$cdir/msmvm, and a name for each of ${#tools[@]} tools"
  else fail deb_completion "${bad[@]}"; fi
fi
mapfile -t data < <(ls tools/prometheus/*.yml tools/grafana/*.json 2>/dev/null)
if [ ${#data[@]} -eq 0 ]; then
  echo "skip deb_data_files # no tools/prometheus/*.yml or tools/grafana/*.json in this tree"
else
  bad=()
  for f in "${data[@]}"; do
    cmp -s "$f" "$root/usr/share/msmvm/$(basename "$f")" || bad+=("$f: not in /usr/share/msmvm")
  done
  if [ ${#bad[@]} -eq 0 ]; then pass deb_data_files "${#data[@]} files in /usr/share/msmvm"
  else fail deb_data_files "${bad[@]}"; fi
fi

# --- msmvm-sim as built: the probed functions' symbols and its .BTF; the others stripped ---
sim=$root/usr/bin/msmvm-sim
bad=()
# (the outputs in variables: grep -q would end nm early, and pipefail call that a failure)
syms=$(nm "$sim" 2>&1)
for sym in msm_ioctl_vm_bind vm_bind_prealloc_count msm_vma_job_free; do
  grep -q " T $sym\$" <<<"$syms" || bad+=("no symbol $sym in msmvm-sim")
done
grep -q ' \.BTF ' <<<"$(readelf -S "$sim" 2>&1)" || bad+=("no .BTF section in msmvm-sim")
for t in "${tools[@]}"; do
  [ "$t" = /usr/bin/msmvm-sim ] && continue
  grep -q ' \.symtab ' <<<"$(readelf -S "$root$t" 2>&1)" && bad+=("$t is not stripped (dh_strip skipped it)")
done
if [ ${#bad[@]} -eq 0 ]; then pass deb_sim_unstripped "msmvm-sim has its symbols and .BTF; the other tools are stripped"
else fail deb_sim_unstripped "${bad[@]}"; fi

# --- the packaged tools count the packaged model exactly (on the host: uprobes need the
# kernel; the chroot's files are this run's own, so no other run's model adds to the count) ---
stat=$root/usr/sbin/msmvm-stat
: >"$tmp/stat.err"
"$stat" --sim="$sim" --json -d 120 >"$tmp/stat.json" 2>"$tmp/stat.err" &
stat_pid=$!
for _ in $(seq 1200); do grep -q attached "$tmp/stat.err" && break; kill -0 $stat_pid 2>/dev/null || break; sleep 0.05; done
if ! grep -q attached "$tmp/stat.err"; then
  fail deb_tools_probe_packaged_model "the package's msmvm-stat did not attach to its msmvm-sim:" "$(cat "$tmp/stat.err")"
  kill $stat_pid 2>/dev/null; wait $stat_pid 2>/dev/null
else
  "$sim" run -w storm -P 2 --queues 2 -n 100 --seed 12 -o "$tmp/sum.json" 2>"$tmp/sim.err"
  kill -INT $stat_pid; wait $stat_pid; src=$?
  diffs=$(stat_compare "$tmp/stat.json" "$tmp/sum.json" model)
  if [ $src -eq 0 ] && [ -z "$diffs" ] && jq -e '.totals.binds == 200 and .totals.waits > 0' "$tmp/sum.json" >/dev/null; then
    pass deb_tools_probe_packaged_model "msmvm-stat --sim: $(jq -c '.totals | {binds, waits, pages_counted}' "$tmp/sum.json"), as the model says"
  else
    fail deb_tools_probe_packaged_model "msmvm-stat exit $src; against the model's summary:" "$diffs" \
      "model: $(jq -c .totals "$tmp/sum.json" 2>&1)" "$(cat "$tmp/stat.err" "$tmp/sim.err")"
  fi
fi
stat_pid=

# --- remove keeps the edited conffile; purge leaves nothing of the package ---
in_root dpkg -L msmvm >"$tmp/listed"
echo "# edited by tests/deb.sh" >>"$root$conf"
in_root apt-get -q -y remove msmvm >"$tmp/remove.log" 2>&1
st=$(in_root dpkg-query -W -f '${Status}' msmvm 2>/dev/null)
if [ "$st" = "deinstall ok config-files" ] && grep -q 'edited by tests/deb.sh' "$root$conf" &&
   [ ! -e "$root/usr/sbin/msmvm-alert" ]; then
  pass deb_remove_keeps_conffile "apt-get remove: $st, the edited $conf kept"
else
  fail deb_remove_keeps_conffile "after apt-get remove: status '$st'; $conf $( [ -f "$root$conf" ] && echo kept || echo gone)" \
    "$(tail -n 10 "$tmp/remove.log")"
fi
in_root apt-get -q -y purge msmvm >"$tmp/purge.log" 2>&1
st=$(in_root dpkg-query -W -f '${Status}' msmvm 2>/dev/null)
left=()
while read -r f; do
  [ -d "$root$f" ] && continue	# /usr/bin and the like stay; the package's own are caught below
  [ -e "$root$f" ] || [ -L "$root$f" ] && left+=("$f")
done <"$tmp/listed"
# anything named after it: /usr/share/doc/msmvm, dpkg's and deb-systemd-helper's records
while read -r f; do left+=("${f#"$root"}"); done < <(find "$root" -name '*msmvm*' ! -path "$root/tmp/*")
if [ -z "$st" ] || [ "$st" = "unknown ok not-installed" ]; then
  if [ ${#left[@]} -eq 0 ] && [ ! -e "$root$conf" ]; then
    pass deb_purge "apt-get purge: the $(wc -l <"$tmp/listed") paths dpkg listed and $conf are gone"
  else
    fail deb_purge "left after purge:" "$(printf '%s\n' "${left[@]}" | sort -u)"
  fi
else
  fail deb_purge "status after purge: '$st'" "$(tail -n 10 "$tmp/purge.log")"
fi
echo "# deb.sh: $((SECONDS - t0)) s"

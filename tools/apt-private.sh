# tools/apt-private.sh: sourced by the scripts that download Debian packages for another
# architecture or kernel (tools/guest/fetch, tools/cross/sysroot). A private apt state, on the
# machine's own mirrors, so the host's apt state and sources are never touched.
#
#   apt_private_setup DIR ARCH [SUITE...]
#       writes DIR/{sources.list,apt.conf,state,cache}, exports APT_CONFIG. The sources are
#       every deb source the machine has (its suites, for ARCH), plus each SUITE (e.g. sid)
#       on the machine's main archive (the URI that serves its plain release, not -security).
#   apt_private_update DIR LOG
#       apt-get update into that state; 1 with a reason on stderr when the mirror fails.
#   apt_private_mirrors
#       "URI SUITE" for each deb source of the machine (deb822 and one-line formats).

apt_private_mirrors() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'function flush() { if (deb && uris != "" && suites != "") { n = split(uris, u, " ");
	       m = split(suites, s, " "); for (i = 1; i <= n; i++) for (j = 1; j <= m; j++) print u[i], s[j] }
	     deb = 0; uris = ""; suites = "" }
	 /^[ \t]*$/ { flush(); next }
	 /^[ \t]*#/ { next }
	 tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
	 tolower($1) == "uris:" { $1 = ""; uris = $0 }
	 tolower($1) == "suites:" { $1 = ""; suites = $0 }
	 tolower($1) == "enabled:" && tolower($2) == "no" { deb = 0; uris = "x"; suites = "" }
	 END { flush() }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [opts] URI SUITE COMPONENTS...
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && NF >= 3 { print $2, $3 }'
  done
}

apt_private_setup() {
  local dir=$1 arch=$2 kr=/usr/share/keyrings/debian-archive-keyring.gpg main s
  shift 2
  [ -f "$kr" ] || { echo "missing $kr (package debian-archive-keyring)" >&2; return 1; }
  rm -rf "$dir"
  mkdir -p "$dir"/state/lists/partial "$dir"/cache/archives/partial "$dir"/parts
  touch "$dir"/state/status
  apt_private_mirrors | sort -u | while read -r uri suite; do
    echo "deb [arch=$arch signed-by=$kr] $uri $suite main"
  done >"$dir/sources.list"
  grep -q . "$dir/sources.list" ||
    { echo "no Debian mirror configured in /etc/apt (sources.list or sources.list.d)" >&2; return 1; }
  # The main archive: the URI serving a suite without a '-' (bookworm, not bookworm-security).
  main=$(apt_private_mirrors | awk '$2 !~ /-/ { print $1; exit }')
  for s in "$@"; do
    [ -n "$main" ] || { echo "no main Debian archive among the machine's mirrors for suite $s" >&2; return 1; }
    echo "deb [arch=$arch signed-by=$kr] $main $s main" >>"$dir/sources.list"
  done
  cat >"$dir/apt.conf" <<CONF
Dir::State "$dir/state"; Dir::State::status "$dir/state/status"; Dir::Cache "$dir/cache";
Dir::Etc::SourceList "$dir/sources.list"; Dir::Etc::SourceParts "$dir/parts";
APT::Architecture "$arch"; APT::Architectures "$arch"; APT::Sandbox::User "root";
Acquire::Retries "2"; Acquire::http::Timeout "30"; Acquire::Languages "none";
CONF
  export APT_CONFIG=$dir/apt.conf
}

apt_private_update() {
  local log=$2
  if ! apt-get -q update >"$log" 2>&1; then
    tail -5 "$log" >&2
    echo "apt-get update failed (mirror unreachable?); log: $log" >&2
    return 1
  fi
  if grep -qE '^(W|E): (Failed to fetch|Some index files failed)' "$log"; then
    grep -E '^(W|E):' "$log" | head -3 >&2
    echo "some package lists failed to download (continuing with the rest)" >&2
  fi
}

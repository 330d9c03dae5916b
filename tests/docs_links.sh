#!/usr/bin/env bash
# The docs stand alone: every relative link and every repository path they name exists, and none
# points outside the repository.
#
# Checked files: README.md, docs/*.md, and every README.md under tools/ and tests/. In each
# (outside fenced code blocks):
#   - markdown links [text](target) and [ref]: target: a relative target must exist, resolved
#     from the file's directory; its #anchor (and a bare #anchor) must be a heading of the
#     target file (GitHub's rule: lowercase, punctuation dropped, spaces to dashes);
#   - inline code spans (`...`): each word that names a path of the repository (its first
#     component is one of the repository's top-level entries and it has a '/') must exist, with
#     globs (*, **, {a,b}) matching at least one file and placeholders (VERSION, <name>, ...)
#     standing for any name. Build outputs (build/..., debian/build) are not in a clean tree
#     and are not checked, nor kernel paths that share a prefix with ours (include/linux/...).
# In every source and doc file: no reference to material outside the repository (the shared
# directory the project started from, or the notes kept there), and in the docs no issue
# numbers ("issue #N", a bare "#N"; a kernel's uname "#1 SMP" is not one): the docs live on
# without the tracker.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
shopt -s globstar nullglob

failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

FAIL_LINES=40
# shellcheck source=tests/lib.sh
. tests/lib.sh

# The repository's top-level entries (a backticked word starting with one of them is a path).
tops=()
for e in * .ci; do
  [ -e "$e" ] && [ "$e" != build ] && tops+=("$e")
done

# refs FILE: "LINE<TAB>link<TAB>TARGET" and "LINE<TAB>code<TAB>SPAN" outside fenced blocks.
refs() {
  awk '
    /^[ \t]*(```|~~~)/ { fence = !fence; next }
    fence { next }
    {
      line = $0
      # reference definitions: [ref]: target
      if (match(line, /^[ \t]*\[[^]]+\]:[ \t]+[^ \t]+/)) {
        d = substr(line, RSTART, RLENGTH); sub(/^[ \t]*\[[^]]+\]:[ \t]+/, "", d)
        printf "%d\tlink\t%s\n", FNR, d
      }
      # code spans first (a link inside one is code, not a link)
      rest = line; out = ""
      while (match(rest, /`[^`]+`/)) {
        printf "%d\tcode\t%s\n", FNR, substr(rest, RSTART + 1, RLENGTH - 2)
        out = out substr(rest, 1, RSTART - 1); rest = substr(rest, RSTART + RLENGTH)
      }
      rest = out rest
      while (match(rest, /\]\([^) \t]+( "[^"]*")?\)/)) {
        t = substr(rest, RSTART + 2, RLENGTH - 3); sub(/ ".*/, "", t)
        printf "%d\tlink\t%s\n", FNR, t
        rest = substr(rest, RSTART + RLENGTH)
      }
    }' "$1"
}

# anchors FILE: GitHub's heading ids, one a line (duplicates get -1, -2, ...).
anchors() {
  awk '
    /^[ \t]*(```|~~~)/ { fence = !fence; next }
    fence || !/^#+[ \t]/ { next }
    {
      h = $0; sub(/^#+[ \t]+/, "", h); sub(/[ \t]+#*[ \t]*$/, "", h)
      h = tolower(h); gsub(/[^a-z0-9 _-]/, "", h); gsub(/ /, "-", h)
      n = seen[h]++
      print (n ? h "-" n : h)
    }' "$1"
}

# expand WORD: brace alternatives, one word a line ({a,b}x{c,d}: four)
expand() {
  local w=$1 pre alts post a
  if [[ $w =~ ^([^{]*)\{([^{}]*,[^{}]*)\}(.*)$ ]]; then
    pre=${BASH_REMATCH[1]} alts=${BASH_REMATCH[2]} post=${BASH_REMATCH[3]}
    IFS=, read -ra a <<<"$alts"
    for alt in "${a[@]}"; do expand "$pre$alt$post"; done
  else
    printf '%s\n' "$w"
  fi
}

# exists PATH: the path, a glob, or a name with placeholders, matches something in the tree
exists() {
  local p=$1 g m
  [ -e "$p" ] && return 0
  # placeholders: <name>, ..., and upper-case words (VERSION, NAME, N) stand for any name
  g=$(sed -E 's/<[^>]*>/*/g; s/\.\.\./*/g; s/(^|[^A-Za-z])[A-Z][A-Z0-9_]*([^A-Za-z]|$)/\1*\2/g; s/(^|[^A-Za-z])[A-Z][A-Z0-9_]*([^A-Za-z]|$)/\1*\2/g' <<<"$p")
  # (a word without glob characters stays itself under nullglob: test what matched)
  for m in $g; do
    [ -e "$m" ] && return 0
  done
  return 1
}

# repo_path WORD: is this word of a code span a path into the repository? (prints it, cleaned)
repo_path() {
  local w=$1 t
  w=${w#*=}			# VAR=path
  # quotes and punctuation around it
  while [[ $w == [\"\'\(]* ]]; do w=${w:1}; done
  while [[ $w == *[\"\'\),\;:.] ]]; do w=${w%?}; done
  [[ $w == */* ]] || return 1
  [[ $w == *'$'* || $w == *://* ]] && return 1
  case $w in
  build/* | */build/* | debian/build* | build) return 1 ;;	# build outputs
  include/linux/* | include/uapi/* | include/drm/* | include/trace/*) return 1 ;;	# the kernel's
  esac
  for t in "${tops[@]}"; do
    if [[ $w == "$t"/* ]]; then
      printf '%s\n' "$w"
      return 0
    fi
  done
  return 1
}

docs=(README.md docs/*.md tools/**/README.md tests/**/README.md)

# --- the checker must see a broken link, path and anchor (a test that cannot fail is no test)
mkdir -p "$tmp/docs"
cat >"$tmp/docs/probe.md" <<'EOF'
# Probe
[gone](gone.md) [anchor](#no-such-heading) `tools/no-such-script.sh` [fine](#probe)
EOF
got=$(refs "$tmp/docs/probe.md" | cut -f2,3 | tr '\t\n' '||')
want='code|tools/no-such-script.sh|link|gone.md|link|#no-such-heading|link|#probe|'
if [ "$got" = "$want" ] && ! exists tools/no-such-script.sh && exists 'tools/*.sh' &&
   [ "$(expand 'bpf/msmvm_{kprobe,uprobe}.bpf.c' | while read -r e; do exists "$e" && echo y; done)" = $'y\ny' ] &&
   ! exists 'bpf/msmvm_nosuch.bpf.c' && exists tests/fixtures/btf/debian-VERSION-arm64.btf.xz && [ "$(anchors "$tmp/docs/probe.md")" = probe ] &&
   ! repo_path build/msmvm-sim >/dev/null && [ "$(repo_path "(docs/driver.md),")" = docs/driver.md ]; then
  pass docs_links_checker_sees_breakage
else
  fail docs_links_checker_sees_breakage "refs: '$got'" "expected: '$want'"
fi

# --- links and paths
bad=()
nlinks=0 npaths=0
for f in "${docs[@]}"; do
  dir=$(dirname "$f")
  while IFS=$'\t' read -r line kind what; do
    if [ "$kind" = link ]; then
      case $what in
      http://* | https://* | mailto:*) continue ;;
      esac
      nlinks=$((nlinks + 1))
      target=${what%%#*} anchor=
      [[ $what == *'#'* ]] && anchor=${what#*#}
      if [[ $what == ../* || $what == /* ]] && ! realpath -m "$dir/$target" | grep -q "^$PWD/"; then
        bad+=("$f:$line: link outside the repository: $what")
        continue
      fi
      if [ -n "$target" ]; then
        resolved=$dir/$target
        if [ ! -e "$resolved" ]; then
          bad+=("$f:$line: link to a missing file: $what")
          continue
        fi
      else
        resolved=$f
      fi
      if [ -n "$anchor" ] && [[ $resolved == *.md ]] && ! anchors "$resolved" | grep -qxF -- "$anchor"; then
        bad+=("$f:$line: no heading '#$anchor' in $resolved")
      fi
    else
      for word in $what; do
        p=$(repo_path "$word") || continue
        while read -r e; do
          npaths=$((npaths + 1))
          exists "$e" || bad+=("$f:$line: no such path in the repository: \`$e\`")
        done < <(expand "$p")
      done
    fi
  done < <(refs "$f")
done
if [ ${#bad[@]} -eq 0 ] && [ "$nlinks" -gt 20 ] && [ "$npaths" -gt 100 ]; then
  pass docs_links_and_paths_exist "${#docs[@]} files, $nlinks links, $npaths paths"
else
  fail docs_links_and_paths_exist "${#docs[@]} files, $nlinks links, $npaths paths checked" "${bad[@]}"
fi

# --- nothing outside the repository, no tracker numbers
# (the patterns are split so that this file does not match itself)
outside=$(grep -rnIE -e "\.\./shar""ed|shared/do""cs|fact"" sheet" \
  README.md Makefile docs tools src include bpf tests debian vmlinux .ci 2>/dev/null |
  grep -v '^debian/build/')
if [ -z "$outside" ]; then
  pass docs_no_reference_outside_repo
else
  fail docs_no_reference_outside_repo "$outside"
fi
issues=$(grep -nE -i -e "issue #[0-9]|(^|[^&[:alnum:]])#[0-9]+" "${docs[@]}" docs/man/* | grep -vE '#[0-9]+ SMP')
if [ -z "$issues" ]; then
  pass docs_no_issue_numbers
else
  fail docs_no_issue_numbers "$issues"
fi

[ "$failed" -eq 0 ]

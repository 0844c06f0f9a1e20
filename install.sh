#!/bin/sh
# staticbuild-installer: install, upgrade or remove a static podman, buildah or skopeo bundle
# from this repository's GitHub releases, and tell what the host lacks to run it.
#
#   sh install.sh podman|buildah|skopeo [--version V] [--variant full|minimal] [--prefix DIR]
#                 [--upgrade] [--uninstall] [--require-signature] [--key FILE] [--force] [--arch A]
#   sh install.sh --check [TOOL] [--prefix DIR] [--user NAME]
#   sh install.sh --apparmor [--prefix DIR]
#
# POSIX sh (dash, busybox sh, bash); needs curl or wget, zstd, tar, awk, sha256sum (or shasum
# or openssl); cosign to check signatures. Environment: STATICBUILD_REPO (OWNER/NAME),
# GITHUB_API_URL, GITHUB_TOKEN (optional), STATICBUILD_IDENTITY (the signer's certificate
# identity, a regular expression), STATICBUILD_OIDC_ISSUER, STATICBUILD_KEY (as --key),
# STATICBUILD_HOST_ROOT (--check
# reads the host under this folder). Exit status: 0 done, 1 an error (one line on stderr);
# --check: 0 nothing blocks, 2 something blocks rootless use, 3 something blocks root use.
#
# What it promises: nothing in the prefix changes before the bundle's SHA-256 (and, with
# cosign, its signature) checked out and no file in the way belongs to someone else; every
# file goes in under a temporary name and is renamed into place; a manifest
# (PREFIX/lib/staticbuild/TOOL.manifest) records what was installed, with hashes, so an
# upgrade removes what the new version dropped and keeps config files the user edited, and an
# uninstall removes exactly that.

set -u
umask 022

# The repository whose releases this script installs; the release workflow fills it in.
DEFAULT_REPO=''
SERVER_URL=${STATICBUILD_SERVER_URL:-https://github.com}
OIDC_ISSUER=${STATICBUILD_OIDC_ISSUER:-https://token.actions.githubusercontent.com}
SIGNER_WORKFLOW=.github/workflows/build.yml
MARKER='staticbuild-installer'
TAB=$(printf '\t')

# --- messages ------------------------------------------------------------------------------

die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }
say() { printf '%s\n' "$*"; }
note() { printf 'install.sh: %s\n' "$*" >&2; }

usage() {
  cat <<'EOF'
usage: sh install.sh TOOL [options]          install TOOL: podman, buildah or skopeo
       sh install.sh TOOL --upgrade [options]  move TOOL to another release (the newest by default)
       sh install.sh TOOL --uninstall          remove what this script installed
       sh install.sh --check [TOOL]            what this host lacks for root and rootless use
       sh install.sh --apparmor                (root) an AppArmor profile for the prefix's binaries
options:
  --version V            a released version, e.g. 6.0.2 (its newest rebuild) or 6.0.2-r1
  --variant full|minimal podman's bundle (default: full)
  --prefix DIR           default: /usr/local as root, ~/.local otherwise
  --require-signature    refuse unless cosign verified the bundle's signature
  --key FILE             check the signature against a cosign public key (key-pair signed releases)
  --force                replace files that this script did not install
  --arch amd64|arm64     default: this machine's
  --user NAME            --check: the user who will run rootless containers
environment: STATICBUILD_REPO=OWNER/NAME, GITHUB_API_URL, GITHUB_TOKEN, STATICBUILD_IDENTITY, STATICBUILD_KEY
EOF
}

# --- arguments -----------------------------------------------------------------------------

TOOL='' VERSION='' VARIANT='' PREFIX='' ARCH='' CHECK_USER=''
KEY=${STATICBUILD_KEY:-}  # --key, for scripts that install from a key-pair signed fork
MODE=install UPGRADE=0 FORCE=0 REQUIRE_SIG=0 VARIANT_GIVEN=0

need_value() { if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value (see --help)"; fi; }

parse_args() {
  while [ $# -gt 0 ]; do
    case $1 in
      --version) need_value "$@"; VERSION=${2#v}; shift ;;
      --variant) need_value "$@"; VARIANT=$2; VARIANT_GIVEN=1; shift ;;
      --prefix) need_value "$@"; PREFIX=$2; shift ;;
      --arch) need_value "$@"; ARCH=$2; shift ;;
      --key) need_value "$@"; KEY=$2; shift ;;
      --user) need_value "$@"; CHECK_USER=$2; shift ;;
      --version=*|--variant=*|--prefix=*|--arch=*|--key=*|--user=*)
        opt=${1%%=*}; parse_args "$opt" "${1#*=}"; ;;
      --upgrade) UPGRADE=1 ;;
      --uninstall) MODE=uninstall ;;
      --check) MODE=check ;;
      --apparmor) MODE=apparmor ;;
      --require-signature) REQUIRE_SIG=1 ;;
      --force) FORCE=1 ;;
      -h|--help) usage; exit 0 ;;
      -*) die "unknown option $1 (see --help)" ;;
      *) [ -z "$TOOL" ] || die "one tool at a time (got $TOOL and $1)"; TOOL=$1 ;;
    esac
    shift
  done
}

validate_args() {
  case $TOOL in
    '') [ "$MODE" = check ] || [ "$MODE" = apparmor ] || { usage >&2; exit 1; } ;;
    *[!a-z0-9-]*|-*) die "'$TOOL' is not a tool name (podman, buildah or skopeo)" ;;
  esac
  case $VERSION in
    ''|[0-9]*) ;;
    *) die "--version $VERSION: give a version like 6.0.2 or 6.0.2-r1" ;;
  esac
  case $VERSION in *[!0-9.r-]*) die "--version $VERSION: give a version like 6.0.2 or 6.0.2-r1" ;; esac
  case $VARIANT in ''|*[!a-z0-9]*) [ -z "$VARIANT" ] || die "--variant $VARIANT: letters and digits only" ;; esac
  if [ -z "$VARIANT" ] && [ "$TOOL" = podman ]; then VARIANT=full; fi
  if [ "$UPGRADE" = 1 ] && [ "$MODE" = uninstall ]; then die "--upgrade and --uninstall exclude each other"; fi
  if [ -n "$KEY" ] && [ ! -f "$KEY" ]; then die "--key $KEY: no such file"; fi
  if [ -z "$PREFIX" ]; then
    if is_root; then PREFIX=/usr/local; else
      [ -n "${HOME:-}" ] || die "HOME is not set: give --prefix"
      PREFIX=$HOME/.local
    fi
  fi
  case $PREFIX in
    /*) ;;
    *) PREFIX=$(pwd)/$PREFIX ;;
  esac
  case $PREFIX in *[!A-Za-z0-9._@+/-]*) die "--prefix $PREFIX: only letters, digits and ._@+-/ please" ;; esac
  while [ "${PREFIX%/}" != "$PREFIX" ]; do PREFIX=${PREFIX%/}; done  # "/" becomes "": paths are $PREFIX/bin/...
  STATE=$PREFIX/lib/staticbuild
  MANIFEST=$STATE/$TOOL.manifest
}

is_root() { [ "$(id -u)" = 0 ]; }

# --- small tools ---------------------------------------------------------------------------

have() { command -v "$1" >/dev/null 2>&1; }

sha256() {  # FILE -> hex digest
  if have sha256sum; then sha256sum "$1" | cut -d' ' -f1
  elif have shasum; then shasum -a 256 "$1" | cut -d' ' -f1
  elif have openssl; then openssl dgst -sha256 "$1" | sed 's/^.*= *//'
  else die "no sha256sum, shasum or openssl: cannot check downloads"; fi
}

detect_arch() {
  [ -z "$ARCH" ] || { case $ARCH in amd64|arm64) return ;; *) die "--arch $ARCH: amd64 or arm64" ;; esac; }
  case $(uname -m) in
    x86_64|amd64) ARCH=amd64 ;;
    aarch64|arm64) ARCH=arm64 ;;
    *) die "no bundles for $(uname -m): releases carry amd64 and arm64" ;;
  esac
}

need_tools() {
  for t in tar awk sed sort find mktemp; do have "$t" || die "$t is missing"; done
  have zstd || die "zstd is missing: the bundles are .tar.zst (Debian/Ubuntu: apt-get install zstd; Fedora: dnf install zstd)"
  if have curl; then FETCH=curl; elif have wget; then FETCH=wget
  else die "neither curl nor wget is installed (Debian/Ubuntu: apt-get install curl)"; fi
  sha256 /dev/null >/dev/null
}

WORK=''
TMPFILE=''
cleanup() {
  [ -z "$TMPFILE" ] || rm -f "$TMPFILE"
  [ -z "$WORK" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'note "interrupted; nothing more was changed"; exit 130' INT TERM HUP

make_work() { WORK=$(mktemp -d "${TMPDIR:-/tmp}/staticbuild-install.XXXXXX") || die "cannot create a temporary folder"; }

# --- HTTP ----------------------------------------------------------------------------------

API=${GITHUB_API_URL:-https://api.github.com}
API=${API%/}
TOKEN=${GITHUB_TOKEN:-${GH_TOKEN:-}}

# http_get URL OUT HEADERS [ACCEPT] -> prints the HTTP status; the body in OUT, headers in HEADERS.
# The token goes to the API only: asset downloads are redirected to storage, which gets none.
http_get() {
  hg_accept=${4:-application/vnd.github+json}
  if [ "$FETCH" = curl ]; then
    if [ -n "$TOKEN" ] && [ "${5:-api}" = api ]; then
      curl -sS --connect-timeout 30 --retry 3 -o "$2" -D "$3" -w '%{http_code}' -H "Accept: $hg_accept" \
        -H "X-GitHub-Api-Version: 2022-11-28" -H "Authorization: Bearer $TOKEN" "$1" 2>"$WORK/http.err"
    else
      curl -sS --connect-timeout 30 --retry 3 -o "$2" -D "$3" -w '%{http_code}' -H "Accept: $hg_accept" \
        -H "X-GitHub-Api-Version: 2022-11-28" "$1" 2>"$WORK/http.err"
    fi
  else
    # wget fails on any status >= 400 and leaves the headers (-S) on stderr
    if [ -n "$TOKEN" ] && [ "${5:-api}" = api ]; then
      wget -q -S -O "$2" --header="Accept: $hg_accept" --header="Authorization: Bearer $TOKEN" "$1" 2>"$3"
    else
      wget -q -S -O "$2" --header="Accept: $hg_accept" "$1" 2>"$3"
    fi
    hg_rc=$?
    hg_status=$(awk '/^ *HTTP\//{s=$2} END{print s}' "$3")
    [ "$hg_rc" = 0 ] && hg_status=200
    printf '%s' "${hg_status:-000}"
  fi
}

why() { tail -n 1 "$WORK/http.err" 2>/dev/null | sed 's/^curl: //'; }  # the client's own reason, one line

api_error() {  # URL STATUS
  case $2 in
    000|'') die "cannot reach $1 ($(why))" ;;
    401) die "GET $1: HTTP 401 (GITHUB_TOKEN is not valid)" ;;
    403|429) die "GET $1: HTTP $2 (rate limited? set GITHUB_TOKEN)" ;;
    404) die "GET $1: HTTP 404 (is $REPO the right repository? STATICBUILD_REPO=OWNER/NAME)" ;;
    *) die "GET $1: HTTP $2" ;;
  esac
}

# Every release of the repository, flattened to "PAGE/PATH<TAB>VALUE" lines in $WORK/releases.
list_releases() {
  lr_url="$API/repos/$REPO/releases?per_page=100"
  lr_page=1
  : >"$WORK/releases"
  while [ -n "$lr_url" ]; do
    lr_status=$(http_get "$lr_url" "$WORK/page.json" "$WORK/page.hdr")
    [ "$lr_status" = 200 ] || api_error "$lr_url" "$lr_status"
    json_flatten <"$WORK/page.json" >"$WORK/page.flat" || die "GET $lr_url: the answer is not JSON"
    sed "s|^|p$lr_page|" "$WORK/page.flat" >>"$WORK/releases"
    lr_url=$(next_link "$WORK/page.hdr")
    lr_page=$((lr_page + 1))
    [ "$lr_page" -le 50 ] || die "more than 50 pages of releases: give --version"
  done
}

next_link() {  # HEADERS -> the Link header's rel="next" URL, if any
  tr -d '\r' <"$1" | awk 'tolower($1) ~ /^link:$/ { sub(/^[^:]*: */, "");
    n = split($0, parts, ",");
    for (i = 1; i <= n; i++) if (parts[i] ~ /rel="next"/) { u = parts[i]; sub(/^[^<]*</, "", u); sub(/>.*$/, "", u); print u } }' | tail -n 1
}

# JSON on stdin -> one line per scalar: /key/0/key<TAB>value (string escapes other than \" \\ \/
# kept as written). A hand-written parser, since jq is not on every machine.
json_flatten() {
  awk '
function fail() { bad = 1; exit 1 }
function ws(   c) { while (pos <= n) { c = substr(s, pos, 1); if (c == " " || c == "\t" || c == "\n" || c == "\r") pos++; else return } }
function str(   out, c) {
  pos++; out = ""
  while (pos <= n) {
    c = substr(s, pos, 1)
    if (c == "\"") { pos++; return out }
    if (c == "\\") {
      c = substr(s, pos + 1, 1); pos += 2
      if (c == "\"" || c == "\\" || c == "/") out = out c; else out = out "\\" c
      continue
    }
    out = out c; pos++
  }
  fail()
}
function value(path,   c, k, i, start) {
  ws(); c = substr(s, pos, 1)
  if (c == "{") {
    pos++; ws()
    if (substr(s, pos, 1) == "}") { pos++; return }
    for (;;) {
      ws(); if (substr(s, pos, 1) != "\"") fail()
      k = str(); ws()
      if (substr(s, pos, 1) != ":") fail()
      pos++; value(path "/" k); ws()
      c = substr(s, pos, 1); pos++
      if (c == "}") return
      if (c != ",") fail()
    }
  }
  if (c == "[") {
    pos++; ws()
    if (substr(s, pos, 1) == "]") { pos++; return }
    for (i = 0; ; i++) {
      value(path "/" i); ws()
      c = substr(s, pos, 1); pos++
      if (c == "]") return
      if (c != ",") fail()
    }
  }
  if (c == "\"") { print path "\t" str(); return }
  start = pos
  while (pos <= n && index(",}] \t\n\r", substr(s, pos, 1)) == 0) pos++
  if (pos == start) fail()
  print path "\t" substr(s, start, pos - start)
}
{ s = s $0 "\n" }
END { if (bad) exit 1; n = length(s); pos = 1; value(""); ws(); if (pos <= n) exit 1 }'
}

# --- choosing the release ------------------------------------------------------------------

# Prints "RELEASE_KEY<TAB>TAG" of the newest published TOOL-vVERSION[-rN] (of VERSION if given).
# Versions compare number by number and a rebuild -rN sorts after its plain version.
pick_release() {
  awk -F '\t' -v tool="$TOOL" -v want="$VERSION" '
function pad(x) { return substr("0000000000", 1, 10 - length(x)) x }
function key(v,   parts, n, i, out, rev) {
  rev = 0
  if (v ~ /-r[0-9]+$/) { rev = v; sub(/^.*-r/, "", rev); sub(/-r[0-9]+$/, "", v) }
  n = split(v, parts, ".")
  out = ""
  for (i = 1; i <= 8; i++) out = out pad(i <= n ? parts[i] + 0 : 0)
  return out pad(rev + 0)
}
{ i = index($1, "/"); rest = substr($1, i + 1); j = index(rest, "/"); if (!j) next
  r = substr($1, 1, i) substr(rest, 1, j - 1); field = substr(rest, j + 1) }
field == "tag_name" { tag[r] = $2 }
field == "draft" { draft[r] = $2 }
field == "prerelease" { pre[r] = $2 }
END {
  prefix = tool "-v"
  for (r in tag) {
    t = tag[r]
    if (draft[r] == "true" || pre[r] == "true" || substr(t, 1, length(prefix)) != prefix) continue
    v = substr(t, length(prefix) + 1)
    if (v !~ /^[0-9]+(\.[0-9]+)*(-r[0-9]+)?$/) continue
    base = v; sub(/-r[0-9]+$/, "", base)
    if (want != "" && want != v && want != base) continue
    k = key(v)
    if (best == "" || k > bestkey) { best = r; bestkey = k; besttag = t }
  }
  if (best != "") print best "\t" besttag
}' "$WORK/releases"
}

assets_of() {  # RELEASE_KEY -> "NAME<TAB>URL" lines
  awk -F '\t' -v r="$1/assets/" '
index($1, r) == 1 { rest = substr($1, length(r) + 1); j = index(rest, "/"); a = substr(rest, 1, j - 1); f = substr(rest, j + 1)
  if (f == "name") name[a] = $2; if (f == "url") url[a] = $2 }
END { for (a in name) print name[a] "\t" url[a] }' "$WORK/releases" | sort
}

released_tools() {
  awk -F '\t' '$1 ~ /\/tag_name$/ && $2 ~ /-v[0-9]/ { t = $2; sub(/-v[0-9].*$/, "", t); seen[t] = 1 }
    END { for (t in seen) print t }' "$WORK/releases" | sort | awk '{ printf "%s%s", (NR > 1 ? ", " : ""), $0 }'
}

# --- downloading and checking --------------------------------------------------------------

download_asset() {  # NAME DEST: from the chosen release's assets, through the API (private repos work too)
  da_url=$(awk -F '\t' -v n="$1" '$1 == n { print $2 }' "$WORK/assets")
  [ -n "$da_url" ] || return 2
  if [ "$FETCH" = curl ] && [ -n "$TOKEN" ]; then
    # Ask the API with the token, then follow its redirect to storage without it.
    da_status=$(curl -sS --connect-timeout 30 --retry 3 -o "$2" -D "$WORK/dl.hdr" \
      -w '%{http_code} %{redirect_url}' -H 'Accept: application/octet-stream' \
      -H "Authorization: Bearer $TOKEN" "$da_url" 2>"$WORK/http.err") || die "download of $1 failed ($(why)); nothing was changed"
    case $da_status in
      200*) return 0 ;;
      30[1237]\ ?*) da_url=${da_status#* } ;;
      *) die "download of $1 failed: HTTP ${da_status%% *}; nothing was changed" ;;
    esac
  fi
  if [ "$FETCH" = curl ]; then
    curl -fsSL --connect-timeout 30 --retry 3 -o "$2" -H 'Accept: application/octet-stream' "$da_url" 2>"$WORK/http.err" \
      || die "download of $1 failed ($(why)); nothing was changed"
  else
    wget -q -O "$2" --header='Accept: application/octet-stream' "$da_url" 2>"$WORK/http.err" \
      || die "download of $1 failed ($(why)); nothing was changed"
  fi
}

check_sha256() {  # FILE NAME: against the release's checksums.txt
  cs_want=$(awk -v n="$2" '($2 == n || $2 == "*" n) && $1 ~ /^[0-9a-f]+$/ && length($1) == 64 { print $1; exit }' \
    "$WORK/checksums.txt")
  [ -n "$cs_want" ] || die "checksums.txt of $TAG does not list $2; nothing was changed"
  cs_have=$(sha256 "$1")
  [ "$cs_have" = "$cs_want" ] || die "$2: SHA-256 $cs_have does not match checksums.txt ($cs_want): the download is damaged or was tampered with; nothing was changed"
}

cosign_flags() {  # the flags this cosign knows: 2.x reads Sigstore bundles only with --new-bundle-format
  cf_help=$(cosign verify-blob --help 2>&1)
  case $cf_help in *--new-bundle-format*) printf '%s' '--new-bundle-format' ;; esac
}

# The bundle's cosign signature: against the release workflow's keyless identity (the default),
# or a public key (--key). Without cosign, only --require-signature makes that an error.
check_signature() {  # FILE NAME
  if [ ! -s "$WORK/sig.json" ]; then
    [ "$REQUIRE_SIG" = 0 ] || die "$TAG has no signature $2.sigstore.json and --require-signature was given; nothing was changed"
    note "warning: $TAG has no signature for $2; checked its SHA-256 only"
    return
  fi
  if ! have cosign; then
    [ "$REQUIRE_SIG" = 0 ] || die "cosign is not installed and --require-signature was given; nothing was changed"
    note "cosign is not installed: checked the SHA-256 only (install cosign to check the signature too)"
    return
  fi
  cs_flags=$(cosign_flags)
  if [ -n "$KEY" ]; then
    # Key-pair signatures are not in the transparency log; an empty trusted root keeps cosign offline.
    printf '%s' '{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[],"certificateAuthorities":[],"ctlogs":[],"timestampAuthorities":[]}' >"$WORK/root.json"
    # shellcheck disable=SC2086  # cs_flags is one flag or none
    cosign verify-blob $cs_flags --bundle "$WORK/sig.json" --key "$KEY" --insecure-ignore-tlog \
      --trusted-root "$WORK/root.json" "$1" >"$WORK/cosign.log" 2>&1 \
      || die "$2: the signature does not verify against $KEY ($(tail -n 1 "$WORK/cosign.log")); nothing was changed"
    SIGNED="signature checked against $KEY"
  else
    cs_identity=${STATICBUILD_IDENTITY:-}
    if [ -z "$cs_identity" ]; then  # the build workflow of this repository, at any branch or tag
      cs_identity="^$(printf '%s' "$SERVER_URL/$REPO/$SIGNER_WORKFLOW" | sed 's/[].[\\*^$+?(){}|]/\\&/g')@refs/.+\$"
    fi
    # shellcheck disable=SC2086
    cosign verify-blob $cs_flags --bundle "$WORK/sig.json" --certificate-identity-regexp "$cs_identity" \
      --certificate-oidc-issuer "$OIDC_ISSUER" "$1" >"$WORK/cosign.log" 2>&1 \
      || die "$2: the signature does not verify as signed by $SERVER_URL/$REPO's release workflow ($(tail -n 1 "$WORK/cosign.log")); nothing was changed"
    SIGNED="signature checked: signed by $REPO's release workflow"
  fi
}

# --- the bundle ----------------------------------------------------------------------------

# Unpack after checking every member's name, then every file's type: regular files and links
# that stay inside the bundle only.
unpack() {  # BUNDLE
  zstd -dc "$1" | tar -tf - >"$WORK/members" 2>"$WORK/tar.log" \
    || die "$BUNDLE is not a readable .tar.zst ($(tail -n 1 "$WORK/tar.log")); nothing was changed"
  up_top=$(awk -F/ 'NR == 1 { print $1 }' "$WORK/members")
  case $up_top in "$TOOL"-v[0-9]*) ;; *) die "$BUNDLE does not unpack to $TOOL-vVERSION/; nothing was changed" ;; esac
  while IFS= read -r up_m; do
    case $up_m in
      "$up_top"/*) ;;
      *) die "$BUNDLE: member $up_m is outside $up_top/; nothing was changed" ;;
    esac
    case /${up_m%/}/ in  # a folder entry ends in /
      *[!A-Za-z0-9._@+/-]*|*/../*|*/./*|*//*) die "$BUNDLE: refusing member name '$up_m'; nothing was changed" ;;
    esac
  done <"$WORK/members"
  mkdir "$WORK/stage"
  zstd -dc "$1" | (cd "$WORK/stage" && tar -xf -) 2>"$WORK/tar.log" \
    || die "$BUNDLE: unpacking failed ($(tail -n 1 "$WORK/tar.log")); nothing was changed"
  up_odd=$(find "$WORK/stage" ! -type f ! -type d ! -type l | head -n 1)
  [ -z "$up_odd" ] || die "$BUNDLE holds ${up_odd#"$WORK"/stage/}, which is no file or link; nothing was changed"
  ROOT=$WORK/stage/$up_top
  BUNDLE_VERSION=${up_top#"$TOOL"-v}
}

link_escapes() {  # REL TARGET: does the link at REL (inside the bundle) point outside it?
  case $2 in /*|'') return 0 ;; esac
  le_depth=$(printf '%s\n' "$1" | awk -F/ '{ print NF - 1 }')
  le_up=$(printf '%s\n' "$2" | awk -F/ '{ n = 0; for (i = 1; i <= NF; i++) if ($i == "..") n++; print n }')
  [ "$le_up" -gt "$le_depth" ]
}

# One line per file the installation will hold:
# KIND<TAB>VALUE<TAB>MODE<TAB>CLASS<TAB>DEST<TAB>SOURCE, KIND f (VALUE the SHA-256) or l (VALUE
# the target), CLASS conf for files under etc/ (an edited one is kept) and file otherwise.
plan_files() {
  : >"$WORK/new"
  (cd "$ROOT" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort) >"$WORK/files"
  [ -s "$WORK/files" ] || die "$BUNDLE is empty; nothing was changed"
  while IFS= read -r pf_rel; do
    pf_src=$ROOT/$pf_rel
    case $pf_rel in etc/*) pf_class='conf' ;; *) pf_class='file' ;; esac
    if [ -L "$pf_src" ]; then
      pf_target=$(readlink "$pf_src")
      link_escapes "$pf_rel" "$pf_target" && die "$BUNDLE: link $pf_rel -> $pf_target leaves the bundle; nothing was changed"
      printf 'l\t%s\t-\t%s\t%s\t%s\n' "$pf_target" "$pf_class" "$PREFIX/$pf_rel" "$pf_src" >>"$WORK/new"
    else
      pf_mode=644; [ -x "$pf_src" ] && pf_mode=755
      printf 'f\t%s\t%s\t%s\t%s\t%s\n' "$(sha256 "$pf_src")" "$pf_mode" "$pf_class" "$PREFIX/$pf_rel" "$pf_src" >>"$WORK/new"
    fi
  done <"$WORK/files"
  plan_user_units
  plan_apparmor
}

# systemd reads a user's units from ~/.local/share/systemd/user (XDG_DATA_HOME), not from
# PREFIX/lib/systemd/user. The copies name the installed podman by its full path, since a bare
# name is looked up in systemd's fixed search path, which has no ~/.local/bin.
plan_user_units() {
  is_root && return 0
  [ -d "$ROOT/lib/systemd/user" ] || return 0
  pu_dir=${XDG_DATA_HOME:-$HOME/.local/share}/systemd/user
  case $pu_dir in *[!A-Za-z0-9._@+/-]*) note "warning: $pu_dir has unusual characters; user units not set up"; return 0 ;; esac
  mkdir -p "$WORK/units"
  for pu_unit in "$ROOT"/lib/systemd/user/*; do
    [ -f "$pu_unit" ] || continue
    pu_name=${pu_unit##*/}
    sed "s|^\(Exec[A-Za-z]*=[-@:+!]*\)podman\([[:space:]]\)|\1$PREFIX/bin/podman\2|; s|^\(Exec[A-Za-z]*=[-@:+!]*\)podman\$|\1$PREFIX/bin/podman|" \
      "$pu_unit" >"$WORK/units/$pu_name"
    [ "$pu_dir/$pu_name" = "$PREFIX/lib/systemd/user/$pu_name" ] && continue  # XDG_DATA_HOME inside the bundle's layout
    printf 'f\t%s\t644\tconf\t%s\t%s\n' "$(sha256 "$WORK/units/$pu_name")" "$pu_dir/$pu_name" "$WORK/units/$pu_name" >>"$WORK/new"
    USER_UNITS="$USER_UNITS $pu_name"
  done
}

# --- the prefix's state --------------------------------------------------------------------

# manifest_get MANIFEST DEST -> "KIND<TAB>VALUE<TAB>MODE<TAB>CLASS" of DEST, or nothing
manifest_get() {
  [ -f "$1" ] || return 0
  awk -F '\t' -v d="$2" '($1 == "f" || $1 == "l") && $5 == d { print $1 "\t" $2 "\t" $3 "\t" $4; exit }' "$1"
}

other_manifests() {  # every manifest in the prefix but this tool's
  for om in "$STATE"/*.manifest; do
    [ -f "$om" ] && [ "$om" != "$MANIFEST" ] && printf '%s\n' "$om"
  done
  return 0
}

shared_with() {  # DEST -> the first other tool whose manifest lists DEST, with its recorded entry
  other_manifests | while IFS= read -r sw_m; do
    sw_e=$(manifest_get "$sw_m" "$1")
    if [ -n "$sw_e" ]; then sw_t=${sw_m##*/}; printf '%s\t%s\n' "${sw_t%.manifest}" "$sw_e"; break; fi
  done
}

state_of() {  # DEST -> "none", "f<TAB>SHA", "l<TAB>TARGET", "dir" or "other"
  if [ -L "$1" ]; then printf 'l\t%s' "$(readlink "$1")"
  elif [ -d "$1" ]; then printf 'dir'
  elif [ -f "$1" ]; then printf 'f\t%s' "$(sha256 "$1")"
  elif [ -e "$1" ]; then printf 'other'
  else printf 'none'; fi
}

# --- deciding what to do with every file ---------------------------------------------------

# For each planned file one action in $WORK/actions: write, keep (an edited config; the new
# version goes beside it as .staticbuild-new), same (already there as it should be). Files in
# the way that this script did not install (or that another tool's installation owns with other
# bytes) are conflicts: listed, and the whole run refused unless --force.
decide() {
  : >"$WORK/actions"
  : >"$WORK/conflicts"
  while IFS="$TAB" read -r d_kind d_value d_mode d_class d_dest d_src; do
    d_now=$(state_of "$d_dest")
    d_new="$d_kind$TAB$d_value"
    d_old=$(manifest_get "$MANIFEST" "$d_dest")
    d_action='write'
    case $d_now in
      none) ;;
      dir|other) printf '%s\t%s\n' "$d_dest" "is in the way (a folder or special file)" >>"$WORK/conflicts"; continue ;;
      *)
        if [ -n "$d_old" ]; then
          d_was=$(printf '%s' "$d_old" | cut -f1,2)
          if [ "$d_now" = "$d_new" ]; then d_action=same
          elif [ "$d_now" = "$d_was" ]; then d_action='write'
          elif [ "$d_class" = conf ]; then d_action=keep
          elif [ "$FORCE" = 0 ]; then
            printf '%s\t%s\n' "$d_dest" "changed since this script installed it" >>"$WORK/conflicts"; continue
          fi
        else
          d_other=$(shared_with "$d_dest")
          if [ -n "$d_other" ] && [ "$d_now" = "$d_new" ]; then d_action=same
          elif [ "$FORCE" = 0 ] && [ -n "$d_other" ]; then
            printf '%s\t%s\n' "$d_dest" "belongs to the ${d_other%%"$TAB"*} installation with other contents" >>"$WORK/conflicts"; continue
          elif [ "$FORCE" = 0 ]; then
            printf '%s\t%s\n' "$d_dest" "was not installed by this script" >>"$WORK/conflicts"; continue
          fi
        fi ;;
    esac
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$d_action" "$d_kind" "$d_value" "$d_mode" "$d_class" "$d_dest" "$d_src" >>"$WORK/actions"
  done <"$WORK/new"
  if [ -s "$WORK/conflicts" ]; then
    d_n=$(($(wc -l <"$WORK/conflicts") - 1))
    d_first=$(head -n 1 "$WORK/conflicts")
    d_more=''; [ "$d_n" -gt 0 ] && d_more=" (and $d_n more)"
    die "refusing to replace ${d_first%%"$TAB"*}, which ${d_first#*"$TAB"}$d_more; nothing was changed (--force replaces such files)"
  fi
  check_writable
}

check_writable() {  # the nearest existing folder of each destination must be writable
  awk -F '\t' '{ print $6 }' "$WORK/actions" | sed 's|/[^/]*$||' | sort -u | while IFS= read -r cw_dir; do
    while [ ! -e "$cw_dir" ] && [ -n "$cw_dir" ]; do cw_dir=${cw_dir%/*}; done
    [ -n "$cw_dir" ] || cw_dir=/
    [ -d "$cw_dir" ] || die "$cw_dir is in the way: it is not a folder; nothing was changed"
    [ -w "$cw_dir" ] || die "cannot write to $cw_dir: run as root, or choose --prefix; nothing was changed"
  done || exit 1
}

# --- changing the prefix -------------------------------------------------------------------

make_dirs() {  # DIR: create it and its missing parents, remembering each one created
  [ -d "$1" ] && return 0
  md_parent=${1%/*}
  [ -n "$md_parent" ] && make_dirs "$md_parent"
  mkdir "$1" 2>/dev/null || [ -d "$1" ] || die "cannot create $1"
  printf '%s\n' "$1" >>"$WORK/created"
}

put() {  # KIND VALUE MODE SRC DEST: write beside DEST, then rename over it
  TMPFILE=${5%/*}/.${5##*/}.staticbuild-tmp
  rm -f "$TMPFILE"
  if [ "$1" = l ]; then
    ln -s "$2" "$TMPFILE" || die "cannot create $TMPFILE"
  else
    if ! { cp "$4" "$TMPFILE" && chmod "$3" "$TMPFILE"; }; then die "cannot write $TMPFILE (disk full?)"; fi
  fi
  if [ -L "$5" ] && [ -d "$5" ]; then rm -f "$5"; fi  # mv would move into the folder a link points to
  mv -f "$TMPFILE" "$5" || die "cannot rename $TMPFILE to $5"
  TMPFILE=''
}

apply() {
  : >"$WORK/created"
  : >"$WORK/kept"
  make_dirs "$STATE"
  while IFS="$TAB" read -r a_action a_kind a_value a_mode _ a_dest a_src; do
    make_dirs "${a_dest%/*}"
    case $a_action in
      write) put "$a_kind" "$a_value" "$a_mode" "$a_src" "$a_dest" ;;
      keep)
        put "$a_kind" "$a_value" "$a_mode" "$a_src" "$a_dest.staticbuild-new"
        printf '%s\n' "$a_dest" >>"$WORK/kept" ;;
    esac
  done <"$WORK/actions"
  record_created_dirs
  write_manifest
}

record_created_dirs() {  # shared by every tool in the prefix: the last uninstall removes them
  [ -s "$WORK/created" ] || return 0
  cat "$WORK/created" >>"$STATE/created-dirs"
}

write_manifest() {
  {
    printf '# %s manifest: what install.sh put here; it removes exactly this\n' "$MARKER"
    printf 'tool\t%s\nvariant\t%s\nversion\t%s\ntag\t%s\narch\t%s\nrepo\t%s\n' \
      "$TOOL" "${VARIANT:--}" "$BUNDLE_VERSION" "$TAG" "$ARCH" "$REPO"
    awk -F '\t' 'BEGIN { OFS = "\t" } { print $2, $3, $4, $5, $6 }' "$WORK/actions"
    awk -F '\t' 'BEGIN { OFS = "\t" } $1 == "keep" { print $2, $3, $4, "file", $6 ".staticbuild-new" }' "$WORK/actions"
  } >"$MANIFEST.tmp" || die "cannot write $MANIFEST.tmp"
  mv -f "$MANIFEST.tmp" "$MANIFEST" || die "cannot write $MANIFEST"
}

# Remove what OLD_MANIFEST lists that the current manifest does not (all of it on uninstall),
# unless another tool's installation lists it too, or it was changed after being installed.
remove_dropped() {  # OLD_MANIFEST
  awk -F '\t' '$1 == "f" || $1 == "l"' "$1" | while IFS="$TAB" read -r r_kind r_value _ _ r_dest; do
    if [ -f "$MANIFEST" ] && [ -n "$(manifest_get "$MANIFEST" "$r_dest")" ]; then continue; fi
    [ -n "$(shared_with "$r_dest")" ] && continue
    r_now=$(state_of "$r_dest")
    case $r_now in
      none) ;;
      "$r_kind$TAB$r_value") rm -f "$r_dest" || note "warning: cannot remove $r_dest" ;;
      *) say "left $r_dest: it changed after it was installed" ;;
    esac
  done
}

remove_empty_dirs() {  # created folders that are empty now, deepest first; the rest stay listed
  [ -f "$STATE/created-dirs" ] || return 0
  sort -ru "$STATE/created-dirs" >"$WORK/dirs"
  : >"$WORK/dirs.left"
  while IFS= read -r rd_dir; do
    [ "$rd_dir" = "$STATE" ] && { printf '%s\n' "$rd_dir" >>"$WORK/dirs.left"; continue; }
    rmdir "$rd_dir" 2>/dev/null || { [ -d "$rd_dir" ] && printf '%s\n' "$rd_dir" >>"$WORK/dirs.left"; }
  done <"$WORK/dirs"
  cp "$WORK/dirs.left" "$STATE/created-dirs.tmp" && mv -f "$STATE/created-dirs.tmp" "$STATE/created-dirs"
}

# When no tool is left: the installer's copy, the list of created folders and the folders.
forget_prefix() {
  [ -n "$(other_manifests)" ] && return 0
  [ -f "$MANIFEST" ] && return 0
  fp_dirs=''
  [ -f "$STATE/created-dirs" ] && fp_dirs=$(sort -ru "$STATE/created-dirs")
  rm -f "$STATE/install.sh" "$STATE/created-dirs"
  printf '%s\n' "$fp_dirs" | while IFS= read -r fp_dir; do
    [ -n "$fp_dir" ] && rmdir "$fp_dir" 2>/dev/null
  done
  return 0
}

keep_installer_copy() {  # so that --upgrade, --uninstall and --check work later without a download
  [ -f "$0" ] && grep -q "^# $MARKER:" "$0" 2>/dev/null || return 0
  if ! { cp "$0" "$STATE/install.sh.tmp" && chmod 755 "$STATE/install.sh.tmp" && mv -f "$STATE/install.sh.tmp" "$STATE/install.sh"; }; then
    note "warning: could not keep a copy of install.sh in $STATE"
  fi
}

# --- AppArmor (Ubuntu 23.10+ restricts unprivileged user namespaces) -------------------------

APPARMOR_DIR=/etc/apparmor.d
userns_restricted() { [ "$(cat "${STATICBUILD_HOST_ROOT:-}/proc/sys/kernel/apparmor_restrict_unprivileged_userns" 2>/dev/null)" = 1 ]; }

# A profile like the one Ubuntu ships for /usr/bin/podman: unconfined, but allowed to create
# user namespaces, for each binary of the prefix that creates them.
AA_BINS='bin/podman bin/buildah bin/skopeo lib/podman/crun lib/podman/pasta lib/podman/pasta.avx2'
apparmor_profile() {  # PREFIX; the prefix's files (relative paths) on stdin -> the profile text
  ap_found=0
  while IFS= read -r ap_rel; do
    case " $AA_BINS " in *" $ap_rel "*) ;; *) continue ;; esac
    [ "$ap_found" = 1 ] || printf '# %s: user namespaces for the bundle in %s\nabi <abi/4.0>,\ninclude <tunables/global>\n' "$MARKER" "${1:-/}"
    ap_found=1
    printf '\nprofile staticbuild%s %s flags=(unconfined) {\n  userns,\n}\n' "$(printf '%s' "$1/$ap_rel" | tr '/.' '--')" "$1/$ap_rel"
  done
}

apparmor_file() { printf '%s/staticbuild%s' "$APPARMOR_DIR" "$(printf '%s' "${1:-/}" | tr '/.' '--')"; }

apparmor_mode() {  # --apparmor: write and load the profile for PREFIX (root), or show how
  af=$(apparmor_file "$PREFIX")
  for am_b in $AA_BINS; do [ -x "$PREFIX/$am_b" ] && printf '%s\n' "$am_b"; done | apparmor_profile "$PREFIX" >"$WORK/profile"
  [ -s "$WORK/profile" ] || die "no podman, buildah or skopeo in $PREFIX: install first"
  if ! is_root; then
    say "as root, this writes $af and loads it:"
    say "  sudo sh $0 --apparmor --prefix ${PREFIX:-/}"
    cat "$WORK/profile"
    exit 0
  fi
  [ -d "$APPARMOR_DIR" ] || die "$APPARMOR_DIR does not exist: is AppArmor installed?"
  if ! { cp "$WORK/profile" "$af.tmp" && mv -f "$af.tmp" "$af"; }; then die "cannot write $af"; fi
  if have apparmor_parser; then apparmor_parser -r "$af" || die "apparmor_parser could not load $af"; fi
  say "wrote and loaded $af"
}

plan_apparmor() {  # root installs on a restricting host carry their profile, listed in the manifest
  is_root && userns_restricted && [ -d "$APPARMOR_DIR" ] || return 0
  pa_file=$(apparmor_file "$PREFIX")
  awk -F '\t' '$1 == "f" && $3 == "755" { print $5 }' "$WORK/new" | sed -n "s|^$PREFIX/||p" \
    | apparmor_profile "$PREFIX" >"$WORK/apparmor.profile"
  [ -s "$WORK/apparmor.profile" ] || return 0
  printf 'f\t%s\t644\tfile\t%s\t%s\n' "$(sha256 "$WORK/apparmor.profile")" "$pa_file" "$WORK/apparmor.profile" >>"$WORK/new"
  APPARMOR_LOAD=$pa_file
}

# --- install, upgrade, uninstall -----------------------------------------------------------

manifest_field() { [ -f "$1" ] && awk -F '\t' -v k="$2" '$1 == k { print $2; exit }' "$1"; }

resolve_repo() {
  REPO=${STATICBUILD_REPO:-}
  [ -n "$REPO" ] || REPO=$(manifest_field "$MANIFEST" repo)
  [ -n "$REPO" ] || REPO=$DEFAULT_REPO
  [ -n "$REPO" ] || die "which repository? set STATICBUILD_REPO=OWNER/NAME"
  case $REPO in */*/*|/*|*/|*[!A-Za-z0-9._/-]*) die "STATICBUILD_REPO=$REPO: give OWNER/NAME" ;; */*) ;; *) die "STATICBUILD_REPO=$REPO: give OWNER/NAME" ;; esac
}

install_mode() {
  need_tools
  detect_arch
  resolve_repo
  make_work
  INSTALLED_TAG=$(manifest_field "$MANIFEST" tag)
  if [ -n "$INSTALLED_TAG" ] && [ "$VARIANT_GIVEN" = 0 ]; then  # an upgrade keeps the installed variant
    VARIANT=$(manifest_field "$MANIFEST" variant | sed 's/^-$//')
  fi
  list_releases
  PICKED=$(pick_release)
  if [ -z "$PICKED" ]; then
    [ -n "$VERSION" ] && die "no release $TOOL-v$VERSION in $REPO"
    pr_tools=$(released_tools)
    die "no $TOOL release in $REPO${pr_tools:+ (released here: $pr_tools)}"
  fi
  TAG=${PICKED#*"$TAB"}
  if [ -n "$INSTALLED_TAG" ] && [ "$UPGRADE" = 0 ] && [ "$FORCE" = 0 ]; then
    [ "$INSTALLED_TAG" = "$TAG" ] && { say "$TAG is installed in ${PREFIX:-/} already; nothing to do"; exit 0; }
    die "$INSTALLED_TAG is installed in ${PREFIX:-/}: --upgrade moves it to $TAG"
  fi
  [ "$UPGRADE" = 0 ] || [ "$INSTALLED_TAG" != "$TAG" ] || [ "$VARIANT_GIVEN" = 1 ] || [ "$FORCE" = 1 ] \
    || { say "$TAG is installed in ${PREFIX:-/} already; nothing to do"; exit 0; }
  assets_of "${PICKED%%"$TAB"*}" >"$WORK/assets"
  BUNDLE=$TOOL${VARIANT:+-$VARIANT}-linux-$ARCH.tar.zst
  grep -q "^$BUNDLE$TAB" "$WORK/assets" \
    || die "$TAG has no $BUNDLE (it has: $(grep '\.tar\.zst' "$WORK/assets" | cut -f1 | tr '\n' ' '| sed 's/ $//'))"
  say "downloading $BUNDLE of $TAG from $REPO"
  download_asset checksums.txt "$WORK/checksums.txt" || die "$TAG has no checksums.txt; nothing was changed"
  download_asset "$BUNDLE.sigstore.json" "$WORK/sig.json" || : >"$WORK/sig.json"
  download_asset "$BUNDLE" "$WORK/bundle.tar.zst"
  check_sha256 "$WORK/bundle.tar.zst" "$BUNDLE"
  SIGNED="signature not checked"
  check_signature "$WORK/bundle.tar.zst" "$BUNDLE"
  unpack "$WORK/bundle.tar.zst"
  USER_UNITS='' APPARMOR_LOAD=''
  plan_files
  decide
  [ -f "$MANIFEST" ] && cp "$MANIFEST" "$WORK/old.manifest"
  apply
  [ -f "$WORK/old.manifest" ] && remove_dropped "$WORK/old.manifest"
  remove_empty_dirs
  keep_installer_copy
  after_install
}

after_install() {
  ai_count=$(awk -F '\t' '$1 == "f" || $1 == "l"' "$MANIFEST" | wc -l | tr -d ' ')
  if [ -n "$INSTALLED_TAG" ] && [ "$INSTALLED_TAG" != "$TAG" ]; then ai_what="upgraded $INSTALLED_TAG to $TAG"
  else ai_what="installed $TAG"; fi
  say "$ai_what ($BUNDLE_VERSION, ${VARIANT:-$TOOL} $ARCH) in ${PREFIX:-/}: $ai_count files; SHA-256 checked, $SIGNED"
  while IFS= read -r ai_kept; do
    [ -n "$ai_kept" ] && say "kept your edited $ai_kept; the new version's file is $ai_kept.staticbuild-new"
  done <"$WORK/kept"
  if [ -n "$APPARMOR_LOAD" ] && have apparmor_parser; then
    apparmor_parser -r "$APPARMOR_LOAD" 2>/dev/null && say "loaded the AppArmor profile $APPARMOR_LOAD (user namespaces for the bundle's binaries)"
  fi
  case ":${PATH:-}:" in
    *":$PREFIX/bin:"*) ;;
    *) say "add $PREFIX/bin to your PATH, e.g. in ~/.profile:"
       say "  export PATH=\"$PREFIX/bin:\$PATH\"" ;;
  esac
  systemd_hints
  say "what this host lacks for $TOOL, and how to fix it: sh $STATE/install.sh --check $TOOL --prefix ${PREFIX:-/}"
}

systemd_hints() {
  if [ -n "$USER_UNITS" ]; then
    have systemctl && systemctl --user daemon-reload >/dev/null 2>&1
    say "user units in ${XDG_DATA_HOME:-$HOME/.local/share}/systemd/user:$USER_UNITS"
    say "  e.g. systemctl --user enable --now podman.socket   (the Docker API at \$XDG_RUNTIME_DIR/podman/podman.sock)"
  fi
  [ -x "$PREFIX/lib/podman/quadlet" ] || return 0
  if is_root; then
    [ -d /run/systemd/system ] && have systemctl && systemctl daemon-reload >/dev/null 2>&1
    case $PREFIX in
      /usr/local|/usr|'') say "quadlet: .container files in /etc/containers/systemd become services at systemctl daemon-reload" ;;
      *) say "quadlet: systemd reads generators from /usr/local and / only; link $PREFIX/lib/systemd/system-generators/podman-system-generator into /etc/systemd/system-generators" ;;
    esac
  else
    say "quadlet for your files in ~/.config/containers/systemd: systemd runs user generators only from system folders, so either"
    say "  $PREFIX/lib/podman/quadlet -user ~/.config/systemd/user && systemctl --user daemon-reload   (after each change)"
    say "  or once, as root: ln -s $PREFIX/lib/podman/quadlet /etc/systemd/user-generators/podman-user-generator"
  fi
}

uninstall_mode() {
  [ -f "$MANIFEST" ] || die "$TOOL is not installed in ${PREFIX:-/} by this script (no $MANIFEST)"
  make_work
  cp "$MANIFEST" "$WORK/old.manifest"
  un_tag=$(manifest_field "$MANIFEST" tag)
  un_profile=$(awk -F '\t' -v d="$APPARMOR_DIR/" '$1 == "f" && index($5, d) == 1 { print $5 }' "$MANIFEST")
  if [ -n "$un_profile" ] && [ -f "$un_profile" ] && have apparmor_parser; then apparmor_parser -R "$un_profile" >/dev/null 2>&1; fi
  rm -f "$MANIFEST"
  remove_dropped "$WORK/old.manifest"
  remove_empty_dirs
  forget_prefix
  if awk -F '\t' '$1 == "f" && $5 ~ /\/systemd\/user\/[^\/]*$/ { f = 1 } END { exit !f }' "$WORK/old.manifest" && ! is_root; then
    have systemctl && systemctl --user daemon-reload >/dev/null 2>&1
  fi
  say "removed $un_tag from ${PREFIX:-/}"
}

# --- the host check ------------------------------------------------------------------------

# Every finding: LEVEL (ok, note, warn, FAIL), an id, what was seen, and the command that fixes
# it. FAIL for rootless use makes the exit status 2, FAIL for root use (and so for both) 3.
HR=${STATICBUILD_HOST_ROOT:-}
CHECK_STATUS=0
finding() {  # LEVEL ID TEXT [FIX] [root|rootless]
  printf '%-5s %-12s %s\n' "$1" "$2" "$3"
  [ -z "${4:-}" ] || printf '      fix: %s\n' "$4"
  if [ "$1" = FAIL ]; then
    if [ "${5:-rootless}" = root ]; then CHECK_STATUS=3; elif [ "$CHECK_STATUS" = 0 ]; then CHECK_STATUS=2; fi
  fi
}

host_file() { cat "$HR$1" 2>/dev/null; }

install_cmd() {  # PACKAGE-ON-DEBIAN PACKAGE-ON-FEDORA -> the distribution's install command
  # shellcheck disable=SC1091  # the host's file, read for ID and ID_LIKE
  ic_id=$(. "$HR/etc/os-release" 2>/dev/null; printf '%s %s' "${ID:-}" "${ID_LIKE:-}")
  case " $ic_id " in
    *" debian "*|*" ubuntu "*) printf 'sudo apt-get install %s' "$1" ;;
    *" fedora "*|*" rhel "*|*" centos "*) printf 'sudo dnf install %s' "$2" ;;
    *" suse "*|*" opensuse "*) printf 'sudo zypper install %s' "$2" ;;
    *" arch "*) printf 'sudo pacman -S %s' "$2" ;;
    *" alpine "*) printf 'sudo apk add %s' "$2" ;;
    *) printf 'install %s (Debian/Ubuntu) or %s (Fedora) with your package manager' "$1" "$2" ;;
  esac
}

kernel_at_least() {  # MAJOR MINOR
  ka_rel=$(host_file /proc/sys/kernel/osrelease)
  [ -n "$ka_rel" ] || ka_rel=$(uname -r)
  printf '%s\n' "$ka_rel" | awk -F '[.-]' -v a="$1" -v b="$2" '{ exit !($1 > a || ($1 == a && $2 + 0 >= b)) }'
}

check_user() {  # sets CU_NAME and CU_UID: --user, else the user running this (root: $SUDO_USER)
  CU_NAME=$CHECK_USER
  if [ -z "$CU_NAME" ]; then
    if is_root; then CU_NAME=${SUDO_USER:-}; else CU_NAME=$(id -un); fi
  fi
  CU_UID=''
  [ -n "$CU_NAME" ] || return 0
  CU_UID=$(awk -F: -v u="$CU_NAME" '$1 == u { print $3; exit }' "$HR/etc/passwd" 2>/dev/null)
  [ -n "$CU_UID" ] || CU_UID=$(id -u "$CU_NAME" 2>/dev/null)
  [ -n "$CU_UID" ] || die "--check: no user $CU_NAME"
}

check_mode() {
  check_user
  say "host check for ${TOOL:-podman} in ${PREFIX:-/}${CU_NAME:+ (rootless: $CU_NAME)}"
  check_cgroup
  check_kernel_overlay
  check_nft
  if [ -z "$CU_NAME" ] || [ "$CU_UID" = 0 ]; then
    finding note rootless "root only was checked: run --check as the user who runs rootless containers, or give --user NAME"
  else
    check_subid subuid
    check_subid subgid
    check_idmap newuidmap
    check_idmap newgidmap
    check_userns
    check_apparmor
    check_delegation
    check_device fuse /dev/fuse fuse
    check_device tun /dev/net/tun tun
    check_runtime_dir
    check_linger
    check_ports
  fi
  case $CHECK_STATUS in
    0) say "nothing blocks root or rootless use" ;;
    2) say "something above blocks rootless use (root use is fine): see each fix" ;;
    3) say "something above blocks root use: see each fix" ;;
  esac
  exit "$CHECK_STATUS"
}

check_cgroup() {
  if [ -f "$HR/sys/fs/cgroup/cgroup.controllers" ]; then
    finding ok cgroup "cgroup v2 (unified hierarchy)"
  elif [ -f "$HR/sys/fs/cgroup/unified/cgroup.controllers" ]; then
    finding FAIL cgroup "hybrid cgroups (v1 controllers, v2 at /sys/fs/cgroup/unified): podman 6 needs cgroup v2" \
      "add systemd.unified_cgroup_hierarchy=1 to GRUB_CMDLINE_LINUX in /etc/default/grub, run sudo update-grub (Fedora: sudo grubby --update-kernel=ALL --args=systemd.unified_cgroup_hierarchy=1) and reboot" root
  else
    finding FAIL cgroup "no cgroup v2 at /sys/fs/cgroup: podman 6 needs cgroup v2" \
      "add systemd.unified_cgroup_hierarchy=1 to GRUB_CMDLINE_LINUX in /etc/default/grub, run sudo update-grub and reboot" root
  fi
}

check_kernel_overlay() {
  if kernel_at_least 5 13; then
    finding ok overlay "kernel $(host_file /proc/sys/kernel/osrelease || uname -r): native overlay for rootless storage"
  else
    finding warn overlay "kernel older than 5.13: rootless storage needs fuse-overlayfs (podman-full ships it) and /dev/fuse" \
      "a kernel of 5.13 or later gives native rootless overlay"
  fi
}

check_nft() {
  case ${TOOL:-podman} in podman|buildah) ;; *) return 0 ;; esac
  for cn in "$PREFIX/lib/podman/nft" "$HR/usr/sbin/nft" "$HR/sbin/nft" "$HR/usr/bin/nft"; do
    [ -x "$cn" ] && { finding ok nft "${cn#"$HR"} (netavark's firewall driver runs it)"; return 0; }
  done
  finding warn nft "no nft: bridge networks fail with \"unable to execute nft\" (netavark drives nftables)" "$(install_cmd nftables nftables)"
}

check_subid() {  # subuid|subgid
  cs_file=/etc/$1
  cs_line=$(awk -F: -v u="$CU_NAME" -v i="$CU_UID" '($1 == u || $1 == i) && $3 > 0 { print $2 " " $3; exit }' "$HR$cs_file" 2>/dev/null)
  cs_flag=--add-subuids; [ "$1" = subgid ] && cs_flag=--add-subgids
  if [ -z "$cs_line" ]; then
    cs_start=$(awk -F: '{ e = $2 + $3; if (e > m) m = e } END { s = 100000; if (m > s) s = m; print s }' "$HR$cs_file" 2>/dev/null)
    [ -n "$cs_start" ] || cs_start=100000
    finding FAIL "$1" "no subordinate ${1#sub} range for $CU_NAME in $cs_file" \
      "sudo usermod $cs_flag $cs_start-$((cs_start + 65535)) $CU_NAME" rootless
  elif [ "${cs_line#* }" -lt 65536 ]; then
    finding warn "$1" "$CU_NAME has ${cs_line#* } subordinate ${1#sub}s in $cs_file: images that use ids up to 65535 fail" \
      "give $CU_NAME 65536 ids: sudo usermod $cs_flag START-END $CU_NAME with a free range"
  else
    finding ok "$1" "$CU_NAME has ${cs_line#* } subordinate ${1#sub}s from ${cs_line% *} in $cs_file"
  fi
}

check_idmap() {  # newuidmap|newgidmap: setuid root, or file capabilities
  for ci_dir in /usr/bin /usr/sbin /bin /sbin /usr/local/bin; do
    ci=$HR$ci_dir/$1
    [ -f "$ci" ] || continue
    if [ -u "$ci" ]; then finding ok "$1" "$ci_dir/$1 is setuid"; return; fi
    ci_caps=''
    have getcap && ci_caps=$(getcap "$ci" 2>/dev/null)
    ci_need=cap_setuid; [ "$1" = newgidmap ] && ci_need=cap_setgid
    case $ci_caps in *"$ci_need"*) finding ok "$1" "$ci_dir/$1 has $ci_need"; return ;; esac
    finding FAIL "$1" "$ci_dir/$1 is neither setuid nor has $ci_need: it cannot map ids" \
      "sudo chmod u+s $ci_dir/$1   (or: sudo setcap $ci_need+ep $ci_dir/$1)" rootless
    return
  done
  finding FAIL "$1" "$1 is missing: rootless containers need it to map subordinate ids" "$(install_cmd uidmap shadow-utils)" rootless
}

check_userns() {
  cu_max=$(host_file /proc/sys/user/max_user_namespaces)
  cu_clone=$(host_file /proc/sys/kernel/unprivileged_userns_clone)
  cu_ok=1
  if [ "$cu_max" = 0 ]; then
    cu_ok=0
    finding FAIL userns "user.max_user_namespaces is 0: no user namespaces" \
      "sudo sysctl -w user.max_user_namespaces=28633 && echo user.max_user_namespaces=28633 | sudo tee /etc/sysctl.d/50-rootless.conf" rootless
  fi
  if [ "$cu_clone" = 0 ]; then
    cu_ok=0
    finding FAIL userns "kernel.unprivileged_userns_clone is 0: unprivileged users cannot create user namespaces" \
      "sudo sysctl -w kernel.unprivileged_userns_clone=1 && echo kernel.unprivileged_userns_clone=1 | sudo tee /etc/sysctl.d/50-rootless.conf" rootless
  fi
  [ "$cu_ok" = 0 ] || finding ok userns "user namespaces allowed (user.max_user_namespaces=${cu_max:-unset})"
}

check_apparmor() {
  userns_restricted || return 0
  ca_bin=$PREFIX/bin/${TOOL:-podman}
  for ca_f in "$HR$APPARMOR_DIR"/*; do
    [ -f "$ca_f" ] || continue
    grep -qs "^[[:space:]]*profile [^ ]* ${ca_bin}[[:space:]]" "$ca_f" || continue
    grep -qs 'userns' "$ca_f" || continue
    finding ok apparmor "kernel.apparmor_restrict_unprivileged_userns=1, and ${ca_f#"$HR"} lets $ca_bin create user namespaces"
    return
  done
  ca_script="sh install.sh"; [ -f "$STATE/install.sh" ] && ca_script="sh $STATE/install.sh"
  finding FAIL apparmor "kernel.apparmor_restrict_unprivileged_userns=1 (Ubuntu 23.10+): $ca_bin may not create user namespaces (\"Permission denied\")" \
    "sudo $ca_script --apparmor --prefix ${PREFIX:-/}   (a profile like Ubuntu's for /usr/bin/podman, for this prefix)" rootless
}

check_delegation() {
  [ -f "$HR/sys/fs/cgroup/cgroup.controllers" ] || return 0
  cd_file=$HR/sys/fs/cgroup/user.slice/user-$CU_UID.slice/user@$CU_UID.service/cgroup.controllers
  cd_fix="sudo mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' | sudo tee /etc/systemd/system/user@.service.d/delegate.conf && sudo systemctl daemon-reload (then log in again)"
  if [ ! -f "$cd_file" ]; then
    finding warn delegation "no systemd user manager for $CU_NAME (user@$CU_UID.service): no cgroup to delegate, so no resource limits" \
      "log in as $CU_NAME through a systemd session (ssh or a console), or: sudo loginctl enable-linger $CU_NAME"
    return
  fi
  cd_have=$(cat "$cd_file")
  cd_missing=''
  for cd_c in cpu memory pids; do
    case " $cd_have " in *" $cd_c "*) ;; *) cd_missing="$cd_missing $cd_c" ;; esac
  done
  if [ -z "$cd_missing" ]; then finding ok delegation "cgroup controllers delegated to $CU_NAME: $cd_have"
  else finding warn delegation "not delegated to $CU_NAME:$cd_missing (--memory, --cpus, --pids-limit fail rootless)" "$cd_fix"; fi
}

check_device() {  # ID PATH MODULE
  cd_path=$HR$2
  if [ ! -c "$cd_path" ]; then
    cd_level=warn
    [ "$1" = tun ] && cd_level=FAIL  # pasta, rootless podman's network, needs a tap device
    [ "$1" = fuse ] && ! kernel_at_least 5 13 && cd_level=FAIL
    finding "$cd_level" "$1" "$2 is missing$( [ "$1" = tun ] && printf ': rootless networking (pasta) fails' )$( [ "$1" = fuse ] && printf ': fuse-overlayfs cannot mount' )" \
      "sudo modprobe $3 && echo $3 | sudo tee /etc/modules-load.d/$3.conf" rootless
    return
  fi
  if [ -n "$(find "$cd_path" -prune -perm -0006)" ]; then
    finding ok "$1" "$2 is there, read-write for everyone"
  else
    cd_level=warn; [ "$1" = tun ] && cd_level=FAIL
    finding "$cd_level" "$1" "$2 is not read-write for other users (distributions make it 0666)" \
      "sudo chmod 0666 $2 (lasting: a udev rule KERNEL==\"${2##*/}\", MODE=\"0666\")" rootless
  fi
}

check_runtime_dir() {
  cr_dir=${XDG_RUNTIME_DIR:-}
  if [ -n "$cr_dir" ] && [ -d "$HR$cr_dir" ]; then
    if [ -n "$(find "$HR$cr_dir" -prune -user "$CU_UID")" ]; then finding ok runtime-dir "XDG_RUNTIME_DIR=$cr_dir"
    else finding warn runtime-dir "XDG_RUNTIME_DIR=$cr_dir does not belong to $CU_NAME" "log in as $CU_NAME (su and sudo keep the caller's): ssh, machinectl shell $CU_NAME@, or a console"; fi
  elif [ -d "$HR/run/user/$CU_UID" ]; then
    finding warn runtime-dir "XDG_RUNTIME_DIR is not set (podman falls back to /tmp)" "export XDG_RUNTIME_DIR=/run/user/$CU_UID"
  else
    finding warn runtime-dir "no /run/user/$CU_UID: $CU_NAME has no login session (su and sudo do not make one)" \
      "log in through ssh or a console, or: sudo loginctl enable-linger $CU_NAME"
  fi
}

check_linger() {
  if [ -e "$HR/var/lib/systemd/linger/$CU_NAME" ]; then finding ok linger "lingering on: $CU_NAME's services run without a login"
  else finding note linger "lingering off: $CU_NAME's containers and user services stop at logout" "sudo loginctl enable-linger $CU_NAME"; fi
}

check_ports() {
  cp_start=$(host_file /proc/sys/net/ipv4/ip_unprivileged_port_start)
  [ -n "$cp_start" ] || return 0
  if [ "$cp_start" -le 80 ]; then finding ok ports "net.ipv4.ip_unprivileged_port_start=$cp_start: rootless containers can publish ports from $cp_start"
  else finding note ports "net.ipv4.ip_unprivileged_port_start=$cp_start: rootless containers cannot publish ports below $cp_start" \
    "sudo sysctl -w net.ipv4.ip_unprivileged_port_start=80 && echo net.ipv4.ip_unprivileged_port_start=80 | sudo tee /etc/sysctl.d/50-unprivileged-ports.conf"; fi
}

# --- main ----------------------------------------------------------------------------------

main() {
  parse_args "$@"
  validate_args
  case $MODE in
    check) check_mode ;;
    apparmor) make_work; apparmor_mode ;;
    uninstall) uninstall_mode ;;
    install) install_mode ;;
  esac
}

main "$@"

#!/usr/bin/env bash
# Make sure the services the test suite needs are installed and running:
# PostgreSQL (with the pgvector extension and an engram_test database), and
# Chromium for the browser tests. Safe to run repeatedly: when all is well it is a fast no-op.
#
# Env: PGHOST (127.0.0.1), PGPORT (5432), PGUSER (postgres),
#      ENGRAM_SKIP_SERVICES=1 to do nothing, ENGRAM_CHROMIUM=0 to skip Chromium (the browser
#      tests then skip themselves and say why).
set -Eeuo pipefail
# set -e alone exits silently; say where it stopped.
trap 'echo "services: error: failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

export PGHOST="${PGHOST:-127.0.0.1}"
export PGPORT="${PGPORT:-5432}"
export PGUSER="${PGUSER:-postgres}"
readonly DB_NAME="engram_test"
readonly PG_WAIT_SECONDS=30
# Debian suite whose source package of pgvector we build when no binary package exists.
readonly PGVECTOR_SRC_SUITE="trixie"
readonly SRC_LIST="/etc/apt/sources.list.d/engram-pgvector-src.sources"

export DEBIAN_FRONTEND=noninteractive
export DEBCONF_NOWARNINGS=yes  # hides "delaying package configuration" noise
APT_UPDATED=0
FRESH_INSTALL=0
PG_VERSION=""
PG_CLUSTER="main"
BUILD_DIR=""

log() { echo "services: $*"; }
die() { echo "services: error: $*" >&2; exit 1; }

# Root-only commands: run directly as root, via sudo otherwise (if there is one).
as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -E "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

# apt-get update is slow, so do it at most once per run unless the sources changed.
apt_update() {
  if [[ $APT_UPDATED -eq 0 || "${1:-}" == "--force" ]]; then
    log "apt-get update"
    as_root apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
}

apt_install() {
  apt_update
  log "apt-get install $*"
  as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# psql against the server the tests use; -X so a user's ~/.psqlrc can't interfere.
pg() {
  local db="$1"; shift
  psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d "$db" "$@"
}

# ---------------------------------------------------------------- PostgreSQL

server_installed() { compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; }

# A fresh Debian install only trusts local socket peers; the tests connect over TCP without a password.
trust_loopback() {
  local hba="/etc/postgresql/$PG_VERSION/$PG_CLUSTER/pg_hba.conf"
  log "setting trust auth for loopback TCP in $hba"
  as_root sed -Ei 's#^(host[[:space:]]+all[[:space:]]+all[[:space:]]+(127\.0\.0\.1/32|::1/128)[[:space:]]+)[^[:space:]]+#\1trust#' "$hba"
  # apt may already have started it (where no policy-rc.d blocks that): make it re-read the file.
  if cluster_online; then
    as_root pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$PG_CLUSTER" reload
  fi
}

install_server() {
  log "no PostgreSQL server found, installing Debian's postgresql"
  apt_install postgresql
  FRESH_INSTALL=1
}

# Pick the cluster on $PGPORT (else the newest one); create one if the server has none.
find_cluster() {
  local line
  line="$(pg_lsclusters -h 2>/dev/null | awk -v port="$PGPORT" '$3 == port { print; exit }')"
  [[ -n "$line" ]] || line="$(pg_lsclusters -h 2>/dev/null | tail -n 1)"
  if [[ -z "$line" ]]; then
    local bin
    bin="$(compgen -G '/usr/lib/postgresql/*/bin/postgres' | sort -V | tail -n 1)"
    PG_VERSION="${bin#/usr/lib/postgresql/}"
    PG_VERSION="${PG_VERSION%%/*}"
    log "creating cluster $PG_VERSION/$PG_CLUSTER on port $PGPORT"
    as_root pg_createcluster -p "$PGPORT" "$PG_VERSION" "$PG_CLUSTER" >/dev/null
    FRESH_INSTALL=1
    line="$(pg_lsclusters -h | awk -v port="$PGPORT" '$3 == port { print; exit }')"
  fi
  read -r PG_VERSION PG_CLUSTER _ _ <<<"$line"
}

cluster_online() { pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1 == v && $2 == c && $4 ~ /^online/ { ok = 1 } END { exit !ok }'; }

start_cluster() {
  if ! cluster_online; then
    log "starting PostgreSQL cluster $PG_VERSION/$PG_CLUSTER"
    # --skip-systemctl-redirect: these machines don't run systemd.
    as_root pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$PG_CLUSTER" start
  fi
}

wait_ready() {
  local i
  for ((i = 0; i < PG_WAIT_SECONDS; i++)); do
    pg_isready -q -h "$PGHOST" -p "$PGPORT" && return 0
    sleep 1
  done
  die "PostgreSQL not accepting connections on $PGHOST:$PGPORT after ${PG_WAIT_SECONDS}s (see /var/log/postgresql/)"
}

ensure_postgres() {
  # Fast path: something already answers where the tests will connect.
  if pg_isready -q -h "$PGHOST" -p "$PGPORT"; then
    return 0
  fi
  server_installed || install_server
  find_cluster
  if [[ $FRESH_INSTALL -eq 1 ]]; then trust_loopback; fi
  start_cluster
  wait_ready
  log "PostgreSQL $PG_VERSION is ready on $PGHOST:$PGPORT"
}

ensure_database() {
  if [[ "$(pg postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != "1" ]]; then
    log "creating database $DB_NAME"
    pg postgres -c "CREATE DATABASE $DB_NAME OWNER postgres"
  fi
}

# ---------------------------------------------------------------- pgvector

create_vector() { pg "$DB_NAME" -c "CREATE EXTENSION IF NOT EXISTS vector" 2>/dev/null; }

server_major() { pg postgres -c "SELECT current_setting('server_version_num')::int / 10000"; }

# Debian 13+ ships pgvector as a binary package; older releases don't.
install_pgvector_binary() {
  local pkg="postgresql-$1-pgvector"
  apt_update
  apt-cache show "$pkg" >/dev/null 2>&1 || return 1
  apt_install "$pkg"
}

# The archive URL this machine already uses for its own release (so we reach the same mirror).
debian_archive_url() {
  local codename
  codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
  [[ -n "$codename" ]] || die "cannot tell the Debian release from /etc/os-release"
  {
    # deb822 stanzas: the first URI of an enabled 'deb' stanza listing our suite.
    for f in /etc/apt/sources.list.d/*.sources; do
      [[ -e "$f" ]] || continue
      awk -v suite="$codename" 'BEGIN { RS = ""; FS = "\n" }
        {
          types = uris = suites = ""; enabled = 1
          for (i = 1; i <= NF; i++) {
            if ($i ~ /^Types:/)   types = $i
            if ($i ~ /^URIs:/)    uris = $i
            if ($i ~ /^Suites:/)  suites = $i
            if ($i ~ /^Enabled:[[:space:]]*no/) enabled = 0
          }
          if (enabled && types ~ /[[:space:]]deb([[:space:]]|$)/ && (suites " ") ~ ("[[:space:]]" suite "[[:space:]]")) {
            split(uris, u, /[[:space:]]+/); print u[2]
          }
        }' "$f"
    done
    # One-line format: "deb [options] URL suite components...".
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [[ -e "$f" ]] || continue
      sed -E 's/\[[^]]*\]//' "$f" | awk -v suite="$codename" '$1 == "deb" && $3 == suite { print $2 }'
    done
  } | awk 'NR == 1'  # not head: it may close the pipe early, which pipefail reports as a failure
}

# deb-src only: apt never installs binary packages from a source entry.
add_source_entry() {
  local url="$1"
  log "adding deb-src $url $PGVECTOR_SRC_SUITE ($SRC_LIST)"
  as_root tee "$SRC_LIST" >/dev/null <<EOF
# Added by engram scripts/services.sh to build pgvector from source; removed when done.
Types: deb-src
URIs: $url
Suites: $PGVECTOR_SRC_SUITE
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
}

remove_source_entry() {
  [[ -e "$SRC_LIST" ]] || return 0
  as_root rm -f "$SRC_LIST"
}

build_pgvector_from_source() {
  local major="$1" url srcdir
  url="$(debian_archive_url)"
  [[ -n "$url" ]] || die "no Debian archive URL found in /etc/apt/sources.list{,.d/}"
  add_source_entry "$url"
  BUILD_DIR="$(mktemp -d)"
  # Leave neither the extra apt source nor the build tree behind, even on failure.
  trap 'rm -rf "$BUILD_DIR"; remove_source_entry' EXIT
  apt_update --force
  apt_install "postgresql-server-dev-$major" build-essential dpkg-dev

  log "fetching pgvector source from $PGVECTOR_SRC_SUITE into $BUILD_DIR"
  # As root, apt warns it can't drop to the _apt sandbox user for this dir; harmless.
  (cd "$BUILD_DIR" && apt-get source -qq --download-only "pgvector/$PGVECTOR_SRC_SUITE" 2>&1 | grep -v '_apt' || true)
  compgen -G "$BUILD_DIR/pgvector_*.dsc" >/dev/null || die "apt-get source pgvector/$PGVECTOR_SRC_SUITE fetched nothing"
  (cd "$BUILD_DIR" && dpkg-source -q -x pgvector_*.dsc src >/dev/null 2>&1)
  srcdir="$BUILD_DIR/src"

  log "building pgvector $(basename "$BUILD_DIR"/pgvector_*.dsc .dsc | cut -d_ -f2) for PostgreSQL $major"
  # OPTFLAGS='' avoids -march=native, so the build works on whatever CPU runs it later;
  # with_llvm=no skips JIT bitcode, which would need a matching clang.
  local make_args=(PG_CONFIG="/usr/lib/postgresql/$major/bin/pg_config" OPTFLAGS= with_llvm=no)
  make -s -C "$srcdir" -j"$(nproc)" "${make_args[@]}" >/dev/null
  as_root make -s -C "$srcdir" "${make_args[@]}" install >/dev/null
}

ensure_pgvector() {
  create_vector && return 0
  local major
  major="$(server_major)"
  log "pgvector not available for PostgreSQL $major, installing"
  install_pgvector_binary "$major" || build_pgvector_from_source "$major"
  # Not create_vector: this time let psql say why it failed.
  pg "$DB_NAME" -c "CREATE EXTENSION IF NOT EXISTS vector" || die "CREATE EXTENSION vector still fails in $DB_NAME"
}

# ---------------------------------------------------------------- Chromium

# Debian's Chromium, driven by playwright-core (which cannot download its own browsers here).
ensure_chromium() {
  [[ "${ENGRAM_CHROMIUM:-1}" == "1" ]] || return 0
  if [[ ! -x /usr/bin/chromium ]]; then
    apt_install chromium
  fi
  log "$(/usr/bin/chromium --version 2>/dev/null || echo 'chromium: installed')"
}

main() {
  if [[ "${ENGRAM_SKIP_SERVICES:-0}" == "1" ]]; then
    log "ENGRAM_SKIP_SERVICES=1, skipping"
    exit 0
  fi
  ensure_postgres
  ensure_database
  ensure_pgvector
  log "pgvector $(pg "$DB_NAME" -c "SELECT extversion FROM pg_extension WHERE extname = 'vector'") in $DB_NAME"
  ensure_chromium
  log "ready: postgres://$PGUSER@$PGHOST:$PGPORT/$DB_NAME"
}

main "$@"

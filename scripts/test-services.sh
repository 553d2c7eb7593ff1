#!/usr/bin/env bash
# Runs the env-gated suites against real services started with docker compose (for users with
# Docker; the project's own CI machines have no Docker engine and use local test servers instead).
#
#   pnpm test:services            # start the services, run the suites, leave the services running
#   ENGRAM_SERVICES_DOWN=1 pnpm test:services   # and stop them afterwards
#
# The services and their ports are in docker-compose.yml. Set the variables yourself to point a
# suite at another service (a managed Qdrant, real S3, a Pinecone index, a Supabase project).
set -Eeuo pipefail
cd "$(dirname "$0")/.."

if ! docker info >/dev/null 2>&1; then
  echo "test:services: no Docker engine is reachable (docker info failed); start Docker, or set the service variables and run 'pnpm test:unit'" >&2
  exit 1
fi

docker compose up -d --wait

export ENGRAM_PG_URL="${ENGRAM_PG_URL:-postgres://postgres:engram@127.0.0.1:55432/engram_test}"
export QDRANT_URL="${QDRANT_URL:-http://127.0.0.1:6333}"
export QDRANT_API_KEY="${QDRANT_API_KEY:-engram-local-key}"
export ENGRAM_S3_ENDPOINT="${ENGRAM_S3_ENDPOINT:-http://127.0.0.1:9000}"
export ENGRAM_S3_BUCKET="${ENGRAM_S3_BUCKET:-engram-test}"
export ENGRAM_S3_ACCESS_KEY_ID="${ENGRAM_S3_ACCESS_KEY_ID:-engram}"
export ENGRAM_S3_SECRET_ACCESS_KEY="${ENGRAM_S3_SECRET_ACCESS_KEY:-engram-secret}"

status=0
npx turbo run build --output-logs=errors-only
npx vitest run || status=$?

if [[ "${ENGRAM_SERVICES_DOWN:-0}" == "1" ]]; then docker compose down; fi
exit "$status"

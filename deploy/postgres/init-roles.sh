#!/bin/sh
# First start of the compose Postgres: the journal's runtime role. It owns nothing; the migrate
# job (as the owner "weft") grants it data access on the journal's tables (docs/security.md).
set -eu
psql -v ON_ERROR_STOP=1 -v pw="$WEFT_JOURNAL_DB_PASSWORD" --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE weft_journal LOGIN PASSWORD :'pw';
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL

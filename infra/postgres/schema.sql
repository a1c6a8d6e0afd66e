-- ml-connector state store schema for PostgreSQL ≥ 13, schema "public", up to version 1.
-- Generated from Sources/ConnectorStorePostgres/Migrations.swift by `mlc infra schema`; do not edit.
-- The functions apply the same migrations themselves at start-up; running this first (psql -f,
-- as a role that may create the schema) is optional and safe to repeat.
BEGIN;
SELECT pg_advisory_xact_lock(1835819871, hashtext('public'));
CREATE SCHEMA IF NOT EXISTS "public";
CREATE TABLE IF NOT EXISTS "public".mlc_schema_migrations (
    version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
DO $check$
BEGIN
    IF (SELECT max(version) FROM "public".mlc_schema_migrations) > 1 THEN
        RAISE EXCEPTION 'the PostgreSQL schema public is newer than version 1: run a newer ml-connector against it';
    END IF;
END
$check$;
DO $migrate$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM "public".mlc_schema_migrations WHERE version = 1) THEN
        EXECUTE $sql$CREATE TABLE IF NOT EXISTS "public".mlc_kv (
            key        text PRIMARY KEY COLLATE "C",
            value      bytea,
            version    bigint NOT NULL,
            expires_at bigint
            )$sql$;
        EXECUTE $sql$CREATE INDEX IF NOT EXISTS mlc_kv_expires_at ON "public".mlc_kv (expires_at) WHERE expires_at IS NOT NULL$sql$;
        INSERT INTO "public".mlc_schema_migrations (version) VALUES (1);
    END IF;
END
$migrate$;
COMMIT;

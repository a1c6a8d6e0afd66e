-- ml-connector state store, schema version 1 (PostgreSQL ≥ 13).
-- The functions apply this themselves at start-up (under an advisory lock, so several instances
-- may start at once); DBAs who prefer to run migrations by hand can apply it first. It is the
-- same SQL as Sources/ConnectorStorePostgres/Migrations.swift, with the schema `public`.
BEGIN;
CREATE TABLE IF NOT EXISTS public.mlc_schema_migrations (
    version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS public.mlc_kv (
    key        text PRIMARY KEY COLLATE "C",
    value      bytea,
    version    bigint NOT NULL,
    expires_at bigint
);
CREATE INDEX IF NOT EXISTS mlc_kv_expires_at ON public.mlc_kv (expires_at) WHERE expires_at IS NOT NULL;
INSERT INTO public.mlc_schema_migrations (version) VALUES (1) ON CONFLICT DO NOTHING;
COMMIT;

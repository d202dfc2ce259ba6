-- The event store (postgres-es reads and writes the first seven columns) plus what readers of the
-- global stream need: a commit-ordered position (rule 6 of STYLE.md) and the tenant, lifted out
-- of the metadata so it can lead indexes and row-level security.
CREATE TABLE events (
    aggregate_type text   NOT NULL,
    aggregate_id   text   NOT NULL,
    sequence       bigint NOT NULL CHECK (sequence >= 0),
    event_type     text   NOT NULL,
    event_version  text   NOT NULL,
    payload        json   NOT NULL,
    metadata       json   NOT NULL,
    position       bigint GENERATED ALWAYS AS IDENTITY,
    txid           xid8   NOT NULL DEFAULT pg_current_xact_id(),
    tenant_id      text   GENERATED ALWAYS AS (metadata ->> 'tenant_id') STORED,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);
CREATE UNIQUE INDEX events_position ON events (position);
CREATE INDEX events_global_order ON events (txid, position);
CREATE INDEX events_tenant ON events (tenant_id, position);

-- postgres-es writes snapshots here when snapshotting is on; kept so it can be turned on.
CREATE TABLE snapshots (
    aggregate_type   text   NOT NULL,
    aggregate_id     text   NOT NULL,
    last_sequence    bigint NOT NULL CHECK (last_sequence >= 0),
    current_snapshot bigint NOT NULL CHECK (current_snapshot >= 0),
    payload          json   NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
);

-- One row per projection: how far into the global stream its read tables are.
CREATE TABLE projection_checkpoints (
    name       text PRIMARY KEY,
    txid       bigint NOT NULL DEFAULT 0,
    position   bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

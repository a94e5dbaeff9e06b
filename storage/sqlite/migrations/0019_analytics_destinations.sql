-- Where a tenant's analytics events are exported (issue 11). Parallel to
-- the PostgreSQL schema; times are Unix microseconds.
CREATE TABLE analytics_destinations (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id),
    kind       TEXT    NOT NULL,
    url        TEXT    NOT NULL,
    secret     TEXT    NOT NULL,
    events     TEXT    NOT NULL DEFAULT '[]',
    disabled   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX analytics_destinations_tenant ON analytics_destinations (tenant_id, id);

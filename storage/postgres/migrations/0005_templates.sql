-- Conversa schema, version 5: message templates, a tenant's definitions
-- per purpose with numbered versions. Parallel to the SQLite schema.

-- A tenant's purposes: the number of the latest version, and when the
-- purpose was deleted (its versions stay, to explain what was sent). A
-- save locks the purpose's row, so versions of one purpose are numbered
-- one at a time.
CREATE TABLE templates (
    tenant_id  bigint      NOT NULL REFERENCES tenants (id),
    purpose    text        NOT NULL,
    latest     bigint      NOT NULL,
    deleted_at timestamptz,
    PRIMARY KEY (tenant_id, purpose)
);

-- The versions of a purpose, numbered 1, 2, …; source is the definition
-- file byte for byte (bytea, not text).
CREATE TABLE template_versions (
    tenant_id  bigint      NOT NULL,
    purpose    text        NOT NULL,
    number     bigint      NOT NULL,
    checksum   text        NOT NULL,
    created_at timestamptz NOT NULL,
    source     bytea       NOT NULL,
    PRIMARY KEY (tenant_id, purpose, number),
    FOREIGN KEY (tenant_id, purpose) REFERENCES templates (tenant_id, purpose)
);

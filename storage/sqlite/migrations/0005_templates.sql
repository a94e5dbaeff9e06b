-- Message templates: a tenant's definitions per purpose, with numbered
-- versions. Times are Unix microseconds; 0 means "not set". Parallel to the
-- PostgreSQL schema.

-- A tenant's purposes: the number of the latest version, and whether the
-- purpose is deleted (its versions stay, to explain what was sent).
CREATE TABLE templates (
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id),
    purpose    TEXT    NOT NULL,
    latest     INTEGER NOT NULL,
    deleted_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, purpose)
) WITHOUT ROWID;

-- The versions of a purpose, numbered 1, 2, …; source is the definition
-- file byte for byte, last in the row so that lists skip its overflow
-- pages.
CREATE TABLE template_versions (
    tenant_id  INTEGER NOT NULL,
    purpose    TEXT    NOT NULL,
    number     INTEGER NOT NULL,
    checksum   TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    source     BLOB    NOT NULL,
    PRIMARY KEY (tenant_id, purpose, number),
    FOREIGN KEY (tenant_id, purpose) REFERENCES templates (tenant_id, purpose)
);

-- Emails to a tenant's staff (notify.StaffEmail): an agent, lead,
-- supervisor or manager told of their work, such as a case's escalation.
-- They go from the tenant's email account to the person's address, never
-- to a contact. data is a JSON object of strings; times are Unix
-- microseconds, 0 "not set". Parallel to the PostgreSQL schema.
CREATE TABLE staff_emails (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id),
    key        TEXT    NOT NULL,
    address    TEXT    NOT NULL,
    name       TEXT    NOT NULL DEFAULT '',
    language   TEXT    NOT NULL DEFAULT '',
    purpose    TEXT    NOT NULL,
    data       TEXT    NOT NULL DEFAULT '{}',
    status     TEXT    NOT NULL,
    account_id INTEGER NOT NULL DEFAULT 0,
    message_id TEXT    NOT NULL DEFAULT '',
    note       TEXT    NOT NULL DEFAULT '',
    sent_at    INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
-- The caller's key: one email per tenant and key (a retried escalation
-- sends once, on any node).
CREATE UNIQUE INDEX staff_emails_key ON staff_emails (tenant_id, key);

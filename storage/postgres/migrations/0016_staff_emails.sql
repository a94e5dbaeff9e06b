-- Conversa schema, version 16: emails to a tenant's staff
-- (notify.StaffEmail): an agent, lead, supervisor or manager told of their
-- work, such as a case's escalation. They go from the tenant's email
-- account to the person's address, never to a contact. Parallel to the
-- SQLite schema.
CREATE TABLE staff_emails (
    id         bigserial   PRIMARY KEY,
    tenant_id  bigint      NOT NULL REFERENCES tenants (id),
    key        text        NOT NULL,
    address    text        NOT NULL,
    name       text        NOT NULL DEFAULT '',
    language   text        NOT NULL DEFAULT '',
    purpose    text        NOT NULL,
    data       jsonb       NOT NULL DEFAULT '{}',
    status     text        NOT NULL,
    account_id bigint      NOT NULL DEFAULT 0,
    message_id text        NOT NULL DEFAULT '',
    note       text        NOT NULL DEFAULT '',
    sent_at    timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
-- The caller's key: one email per tenant and key (a retried escalation
-- sends once, on any node).
CREATE UNIQUE INDEX staff_emails_key ON staff_emails (tenant_id, key);

-- Conversa schema, version 3: support cases (PQRs), their history and their
-- filing numbers. Parallel to the SQLite schema.

-- A tenant's filing numbers: the last number given in each year. A case
-- takes the next one with an upsert in the transaction that stores it; the
-- row stays locked until that transaction ends, so concurrent filings take
-- consecutive numbers, and a failed filing takes none.
CREATE TABLE case_sequences (
    tenant_id bigint  NOT NULL REFERENCES tenants (id),
    year      integer NOT NULL,
    last      bigint  NOT NULL,
    PRIMARY KEY (tenant_id, year)
);

-- A case. contact_id and conversation_id (0 for none) are the tenant's, as
-- the caller found them; there is no foreign key, as on messages. fields is
-- a JSON object of strings. version counts changes, for compare-and-set.
CREATE TABLE cases (
    id              bigserial   PRIMARY KEY,
    tenant_id       bigint      NOT NULL REFERENCES tenants (id),
    radicado        text        NOT NULL,
    type            text        NOT NULL,
    status          text        NOT NULL,
    contact_id      bigint      NOT NULL,
    conversation_id bigint      NOT NULL DEFAULT 0,
    channel         text        NOT NULL DEFAULT '',
    subject         text        NOT NULL DEFAULT '',
    description     text        NOT NULL DEFAULT '',
    fields          jsonb       NOT NULL DEFAULT '{}',
    priority        text        NOT NULL DEFAULT '',
    term_days       integer     NOT NULL,
    due             timestamptz NOT NULL,
    extended_days   integer     NOT NULL DEFAULT 0,
    extension_note  text        NOT NULL DEFAULT '',
    filed_at        timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    version         bigint      NOT NULL,
    source          text        NOT NULL DEFAULT '',
    UNIQUE (tenant_id, radicado)
);
-- What filed a case (the bot's "message:<id>"), so that a retry finds it.
CREATE UNIQUE INDEX cases_source ON cases (tenant_id, source) WHERE source <> '';
-- Work lists: the open cases of a tenant by status, soonest due first.
CREATE INDEX cases_status_due ON cases (tenant_id, status, due);
-- The tenant's cases newest first, the order of every list and its cursor.
CREATE INDEX cases_tenant_id ON cases (tenant_id, id);
-- A contact's cases.
CREATE INDEX cases_contact ON cases (tenant_id, contact_id);

-- A case's history, only ever appended to, read in id order. Changes of a
-- case hold its row's lock, so its events take ids in order.
CREATE TABLE case_events (
    id          bigserial   PRIMARY KEY,
    tenant_id   bigint      NOT NULL,
    case_id     bigint      NOT NULL REFERENCES cases (id),
    kind        text        NOT NULL,
    actor       text        NOT NULL DEFAULT '',
    from_status text        NOT NULL DEFAULT '',
    to_status   text        NOT NULL DEFAULT '',
    note        text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL
);
CREATE INDEX case_events_case ON case_events (case_id, id);

-- Support cases (PQRs), their history and their filing numbers. Times are
-- Unix microseconds; 0 means "not set". Parallel to the PostgreSQL schema.

-- A tenant's filing numbers: the last number given in each year. A case
-- takes the next one in the transaction that stores it, so a failed filing
-- takes none and the numbers have no gaps.
CREATE TABLE case_sequences (
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    year      INTEGER NOT NULL,
    last      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, year)
) WITHOUT ROWID;

-- A case. contact_id and conversation_id (0 for none) are the tenant's, as
-- the caller found them; there is no foreign key, as on messages. fields is
-- a JSON object of strings. version counts changes, for compare-and-set.
CREATE TABLE cases (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenants (id),
    radicado        TEXT    NOT NULL,
    type            TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    contact_id      INTEGER NOT NULL,
    conversation_id INTEGER NOT NULL DEFAULT 0,
    channel         TEXT    NOT NULL DEFAULT '',
    subject         TEXT    NOT NULL DEFAULT '',
    description     TEXT    NOT NULL DEFAULT '',
    fields          TEXT    NOT NULL DEFAULT '{}',
    priority        TEXT    NOT NULL DEFAULT '',
    term_days       INTEGER NOT NULL,
    due             INTEGER NOT NULL,
    extended_days   INTEGER NOT NULL DEFAULT 0,
    extension_note  TEXT    NOT NULL DEFAULT '',
    filed_at        INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    version         INTEGER NOT NULL,
    source          TEXT    NOT NULL DEFAULT '',
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

-- A case's history, only ever appended to, read in id order.
CREATE TABLE case_events (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL,
    case_id     INTEGER NOT NULL REFERENCES cases (id),
    kind        TEXT    NOT NULL,
    actor       TEXT    NOT NULL DEFAULT '',
    from_status TEXT    NOT NULL DEFAULT '',
    to_status   TEXT    NOT NULL DEFAULT '',
    note        TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);
CREATE INDEX case_events_case ON case_events (case_id, id);

-- Times are Unix microseconds; 0 means "not set".

CREATE TABLE tenants (
    id         INTEGER PRIMARY KEY,
    slug       TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL,
    language   TEXT    NOT NULL,
    region     TEXT    NOT NULL,
    time_zone  TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE channel_accounts (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id),
    kind       TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    settings   TEXT    NOT NULL DEFAULT '{}',
    disabled   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (kind, key)
);
CREATE INDEX channel_accounts_tenant ON channel_accounts (tenant_id, id);

CREATE TABLE api_keys (
    id         TEXT    PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id),
    name       TEXT    NOT NULL,
    hash       BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at);

CREATE TABLE contacts (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id),
    name       TEXT    NOT NULL DEFAULT '',
    language   TEXT    NOT NULL DEFAULT '',
    attributes TEXT    NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX contacts_tenant ON contacts (tenant_id, id);

CREATE TABLE identities (
    tenant_id  INTEGER NOT NULL,
    channel    TEXT    NOT NULL,
    address    TEXT    NOT NULL,
    contact_id INTEGER NOT NULL REFERENCES contacts (id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, channel, address)
) WITHOUT ROWID;
CREATE INDEX identities_address ON identities (tenant_id, address);
CREATE INDEX identities_contact ON identities (contact_id);

CREATE TABLE conversations (
    id                 INTEGER PRIMARY KEY,
    tenant_id          INTEGER NOT NULL REFERENCES tenants (id),
    contact_id         INTEGER NOT NULL REFERENCES contacts (id),
    state              TEXT    NOT NULL,
    channel            TEXT    NOT NULL,
    channel_account_id INTEGER NOT NULL,
    assignee_id        INTEGER NOT NULL DEFAULT 0,
    last_seq           INTEGER NOT NULL DEFAULT 0,
    last_message_at    INTEGER NOT NULL,
    opened_at          INTEGER NOT NULL,
    closed_at          INTEGER NOT NULL DEFAULT 0,
    updated_at         INTEGER NOT NULL
);
-- One open conversation per contact, whatever the channel.
CREATE UNIQUE INDEX conversations_open ON conversations (tenant_id, contact_id) WHERE state <> 'closed';
CREATE INDEX conversations_activity ON conversations (tenant_id, last_message_at, id);
CREATE INDEX conversations_contact ON conversations (tenant_id, contact_id, id);

CREATE TABLE messages (
    id                 INTEGER PRIMARY KEY,
    tenant_id          INTEGER NOT NULL REFERENCES tenants (id),
    conversation_id    INTEGER NOT NULL REFERENCES conversations (id),
    contact_id         INTEGER NOT NULL,
    seq                INTEGER NOT NULL,
    direction          TEXT    NOT NULL,
    author_kind        TEXT    NOT NULL,
    author_id          INTEGER NOT NULL DEFAULT 0,
    author_name        TEXT    NOT NULL DEFAULT '',
    channel            TEXT    NOT NULL,
    channel_account_id INTEGER NOT NULL,
    parts              TEXT    NOT NULL,
    body               TEXT    NOT NULL,
    provider_id        TEXT,
    idempotency_key    TEXT,
    status             TEXT    NOT NULL,
    failure_code       TEXT    NOT NULL DEFAULT '',
    failure_message    TEXT    NOT NULL DEFAULT '',
    send_at            INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE UNIQUE INDEX messages_provider ON messages (channel_account_id, provider_id) WHERE provider_id IS NOT NULL;
CREATE UNIQUE INDEX messages_idempotency ON messages (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX messages_seq ON messages (conversation_id, seq);
CREATE INDEX messages_contact ON messages (tenant_id, contact_id, conversation_id, seq);
CREATE INDEX messages_tenant ON messages (tenant_id, id);

-- Full-text search: words without case or accents, for Spanish and English.
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    body,
    content = 'messages',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;

CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY,
    tenant_id    INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    ref          INTEGER NOT NULL DEFAULT 0,
    key          TEXT,
    payload      BLOB,
    state        TEXT    NOT NULL,
    run_at       INTEGER NOT NULL,
    attempt      INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    leased_until INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs (state, run_at);
CREATE INDEX jobs_lease ON jobs (state, leased_until);
CREATE UNIQUE INDEX jobs_key ON jobs (tenant_id, key) WHERE key IS NOT NULL AND state <> 'failed';

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The dialogue engine: trained bot versions, the dialogue state of
-- conversations, and the bot's analysis of each message it read. Times are
-- Unix microseconds; 0 means "not set".

-- A tenant's trained bots, numbered 1, 2, … per tenant. Source, model and
-- report are kept byte for byte; they come last in the row, so that lists,
-- which read only the columns before them, skip their overflow pages.
CREATE TABLE bot_versions (
    tenant_id    INTEGER NOT NULL REFERENCES tenants (id),
    number       INTEGER NOT NULL,
    checksum     TEXT    NOT NULL,
    active       INTEGER NOT NULL DEFAULT 0,
    note         TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    -- When the version last became active; kept after it is replaced.
    activated_at INTEGER NOT NULL DEFAULT 0,
    source       BLOB    NOT NULL,
    model        BLOB    NOT NULL,
    report       BLOB    NOT NULL,
    PRIMARY KEY (tenant_id, number)
);
-- At most one active version per tenant, found without reading the others.
CREATE UNIQUE INDEX bot_versions_active ON bot_versions (tenant_id) WHERE active = 1;

-- The engine's state per conversation. version counts saves, for
-- compare-and-set. The first save checks that the conversation is the
-- tenant's, so there is no foreign key.
CREATE TABLE bot_sessions (
    tenant_id       INTEGER NOT NULL,
    conversation_id INTEGER NOT NULL,
    version         INTEGER NOT NULL,
    state           BLOB    NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, conversation_id)
);

-- What the bot understood of a message (conversation.Analysis as JSON), or
-- NULL until it has read the message.
ALTER TABLE messages ADD COLUMN analysis TEXT;

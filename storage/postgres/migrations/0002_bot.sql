-- Conversa schema, version 2: the dialogue engine. Trained bot versions,
-- the dialogue state of conversations, and the bot's analysis of each
-- message it read.

-- A tenant's trained bots, numbered 1, 2, … per tenant. Source, model and
-- report are kept byte for byte (bytea, not jsonb). A new number is taken
-- under the lock of the tenant's row.
CREATE TABLE bot_versions (
    tenant_id    bigint      NOT NULL REFERENCES tenants (id),
    number       bigint      NOT NULL,
    checksum     text        NOT NULL,
    active       boolean     NOT NULL DEFAULT false,
    note         text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    -- When the version last became active; kept after it is replaced.
    activated_at timestamptz,
    source       bytea       NOT NULL,
    model        bytea       NOT NULL,
    report       bytea       NOT NULL,
    PRIMARY KEY (tenant_id, number)
);
-- At most one active version per tenant, found without reading the others.
CREATE UNIQUE INDEX bot_versions_active ON bot_versions (tenant_id) WHERE active;

-- The engine's state per conversation. version counts saves, for
-- compare-and-set. The first save checks that the conversation is the
-- tenant's, so there is no foreign key (as on messages).
CREATE TABLE bot_sessions (
    tenant_id       bigint      NOT NULL,
    conversation_id bigint      NOT NULL,
    version         bigint      NOT NULL,
    state           bytea       NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, conversation_id)
);

-- What the bot understood of a message (conversation.Analysis), or NULL
-- until it has read the message. Adding a nullable column without a default
-- rewrites nothing.
ALTER TABLE messages ADD COLUMN analysis jsonb;

-- Conversa schema, version 1. Every table is scoped by tenant_id, and every
-- query of the store filters on it.

-- Folds case and the accents of Spanish, Portuguese, French and German, so
-- that "Factúra" finds "factura". It works under any database locale and
-- needs no extension.
CREATE FUNCTION conversa_fold(t text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT translate(lower(t),
        'áàâäãåāéèêëēíìîïīóòôöõøōúùûüūñçýÿ',
        'aaaaaaaeeeeeiiiiiooooooouuuuuncyy')
$$;

CREATE TABLE tenants (
    id         bigserial   PRIMARY KEY,
    slug       text        NOT NULL UNIQUE,
    name       text        NOT NULL,
    language   text        NOT NULL,
    region     text        NOT NULL,
    time_zone  text        NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE channel_accounts (
    id         bigserial   PRIMARY KEY,
    tenant_id  bigint      NOT NULL REFERENCES tenants (id),
    kind       text        NOT NULL,
    key        text        NOT NULL,
    name       text        NOT NULL,
    settings   jsonb       NOT NULL DEFAULT '{}',
    disabled   boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (kind, key)
);
CREATE INDEX channel_accounts_tenant ON channel_accounts (tenant_id, id);

CREATE TABLE api_keys (
    id         text        PRIMARY KEY,
    tenant_id  bigint      NOT NULL REFERENCES tenants (id),
    name       text        NOT NULL,
    hash       bytea       NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at);

CREATE TABLE contacts (
    id         bigserial   PRIMARY KEY,
    tenant_id  bigint      NOT NULL REFERENCES tenants (id),
    name       text        NOT NULL DEFAULT '',
    language   text        NOT NULL DEFAULT '',
    attributes jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX contacts_tenant ON contacts (tenant_id, id);

-- An identity is inserted before its contact in one statement, so the
-- contact is only created when the identity is new: the foreign key is
-- checked at commit.
CREATE TABLE identities (
    tenant_id  bigint      NOT NULL,
    channel    text        NOT NULL,
    address    text        NOT NULL,
    contact_id bigint      NOT NULL REFERENCES contacts (id) DEFERRABLE INITIALLY DEFERRED,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, channel, address)
);
CREATE INDEX identities_address ON identities (tenant_id, address);
CREATE INDEX identities_contact ON identities (contact_id);

-- Every message updates its conversation (last_seq, last_message_at,
-- channel). None of those columns is indexed and pages keep free room, so
-- the update is HOT: no index entries per message. Lists by activity sort the
-- rows an index narrows them to (the tenant, the state, the contact).
CREATE TABLE conversations (
    id                 bigserial   PRIMARY KEY,
    tenant_id          bigint      NOT NULL REFERENCES tenants (id),
    contact_id         bigint      NOT NULL REFERENCES contacts (id),
    state              text        NOT NULL,
    channel            text        NOT NULL,
    channel_account_id bigint      NOT NULL,
    assignee_id        bigint      NOT NULL DEFAULT 0,
    last_seq           bigint      NOT NULL DEFAULT 0,
    last_message_at    timestamptz NOT NULL,
    opened_at          timestamptz NOT NULL,
    closed_at          timestamptz,
    updated_at         timestamptz NOT NULL
) WITH (fillfactor = 70);
-- One open conversation per contact, whatever the channel.
CREATE UNIQUE INDEX conversations_open ON conversations (tenant_id, contact_id) WHERE state <> 'closed';
CREATE INDEX conversations_state ON conversations (tenant_id, state, id);
CREATE INDEX conversations_contact ON conversations (tenant_id, contact_id, id);

-- A message belongs to its conversation's tenant; tenant_id repeats it so
-- that every query filters on the tenant. There are no foreign keys: every
-- insert locks and updates its conversation row in the same statement (for
-- the next seq), which proves it exists, and a key check per message costs
-- a fifth of the insert.
CREATE TABLE messages (
    id                 bigserial   PRIMARY KEY,
    tenant_id          bigint      NOT NULL,
    conversation_id    bigint      NOT NULL,
    contact_id         bigint      NOT NULL,
    seq                bigint      NOT NULL,
    direction          text        NOT NULL,
    author_kind        text        NOT NULL,
    author_id          bigint      NOT NULL DEFAULT 0,
    author_name        text        NOT NULL DEFAULT '',
    channel            text        NOT NULL,
    channel_account_id bigint      NOT NULL,
    parts              jsonb       NOT NULL,
    body               text        NOT NULL,
    search             tsvector    GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, conversa_fold(body))) STORED,
    provider_id        text,
    idempotency_key    text,
    status             text        NOT NULL,
    failure_code       text        NOT NULL DEFAULT '',
    failure_message    text        NOT NULL DEFAULT '',
    send_at            timestamptz,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);
CREATE UNIQUE INDEX messages_provider ON messages (channel_account_id, provider_id) WHERE provider_id IS NOT NULL;
CREATE UNIQUE INDEX messages_idempotency ON messages (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX messages_seq ON messages (conversation_id, seq);
CREATE INDEX messages_contact ON messages (tenant_id, contact_id, conversation_id, seq);
CREATE INDEX messages_search ON messages USING gin (search);

CREATE TABLE jobs (
    id           bigserial   PRIMARY KEY,
    tenant_id    bigint      NOT NULL,
    kind         text        NOT NULL,
    ref          bigint      NOT NULL DEFAULT 0,
    key          text,
    payload      bytea,
    state        text        NOT NULL,
    run_at       timestamptz NOT NULL,
    attempt      integer     NOT NULL DEFAULT 0,
    max_attempts integer     NOT NULL,
    leased_until timestamptz,
    last_error   text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX jobs_due ON jobs (run_at) WHERE state = 'pending';
CREATE INDEX jobs_lease ON jobs (leased_until) WHERE state = 'running';
CREATE UNIQUE INDEX jobs_key ON jobs (tenant_id, key) WHERE key IS NOT NULL AND state <> 'failed';

CREATE TABLE settings (
    name  text PRIMARY KEY,
    value text NOT NULL
);

-- Conversa schema, version 4: the consent ledger: recipients opting out of,
-- or back into, messages from one sender (a channel account). Append-only;
-- the latest entry of (account, address) decides. Parallel to the SQLite schema.
CREATE TABLE consent_changes (
    id          bigserial   PRIMARY KEY,
    tenant_id   bigint      NOT NULL REFERENCES tenants (id),
    account_id  bigint      NOT NULL REFERENCES channel_accounts (id),
    contact_id  bigint      NOT NULL DEFAULT 0,
    channel     text        NOT NULL,
    address     text        NOT NULL,
    opted_out   boolean     NOT NULL,
    source      text        NOT NULL,
    provider_id text        NOT NULL DEFAULT '',
    at          timestamptz NOT NULL
);
CREATE INDEX consent_changes_recipient ON consent_changes (account_id, address, id);
CREATE INDEX consent_changes_contact ON consent_changes (tenant_id, contact_id, id);
-- A message asks for one change: recording it again (a retried job, a
-- replayed webhook) finds the first.
CREATE UNIQUE INDEX consent_changes_message ON consent_changes (account_id, provider_id) WHERE provider_id <> '';

-- What a channel keeps of a message beyond its parts, as a JSON object of
-- strings: an email's subject and Message-ID chain, say. NULL for none; no
-- default, so adding it rewrites nothing.
ALTER TABLE messages ADD COLUMN meta jsonb;

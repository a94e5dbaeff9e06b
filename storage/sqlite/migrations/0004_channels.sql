-- Channels: the consent ledger, and what channels keep of messages.
--
-- The consent ledger: recipients opting out of, or back into, messages from
-- one sender (a channel account). Append-only; the latest entry of
-- (account, address) decides. Times are Unix microseconds. Parallel to the
-- PostgreSQL schema.
CREATE TABLE consent_changes (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id),
    account_id  INTEGER NOT NULL REFERENCES channel_accounts (id),
    contact_id  INTEGER NOT NULL DEFAULT 0,
    channel     TEXT    NOT NULL,
    address     TEXT    NOT NULL,
    opted_out   INTEGER NOT NULL,
    source      TEXT    NOT NULL,
    provider_id TEXT    NOT NULL DEFAULT '',
    at          INTEGER NOT NULL
);
CREATE INDEX consent_changes_recipient ON consent_changes (account_id, address, id);
CREATE INDEX consent_changes_contact ON consent_changes (tenant_id, contact_id, id);
-- A message asks for one change: recording it again (a retried job, a
-- replayed webhook) finds the first.
CREATE UNIQUE INDEX consent_changes_message ON consent_changes (account_id, provider_id) WHERE provider_id <> '';

-- What a channel keeps of a message beyond its parts, as a JSON object of
-- strings: an email's subject and Message-ID chain, say. NULL for none.
ALTER TABLE messages ADD COLUMN meta TEXT;

-- An edited message's new text replaces the old one in the search index.
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;

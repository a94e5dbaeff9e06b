-- Crash safety of webhooks and campaigns.

-- The events each webhook endpoint was given, so that an event emitted
-- again (a retried status_changed job) is enqueued once per endpoint. Rows
-- older than 30 days are forgotten. Times are Unix microseconds. Parallel
-- to the PostgreSQL schema.
CREATE TABLE webhook_events (
    endpoint_id INTEGER NOT NULL,
    event_id    TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (endpoint_id, event_id)
) WITHOUT ROWID;
CREATE INDEX webhook_events_created ON webhook_events (created_at);

-- A campaign's CSV upload, in pieces (seq 0, 1, ...; an empty piece ends
-- it), kept while the campaign is planning so that a planning that
-- stopped can be resumed.
CREATE TABLE campaign_uploads (
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
    seq         INTEGER NOT NULL,
    piece       BLOB    NOT NULL,
    PRIMARY KEY (campaign_id, seq)
) WITHOUT ROWID;

-- The last line of a CSV upload whose contacts are planned: where a
-- resumed planning goes on.
ALTER TABLE campaigns ADD COLUMN plan_cursor INTEGER NOT NULL DEFAULT 0;

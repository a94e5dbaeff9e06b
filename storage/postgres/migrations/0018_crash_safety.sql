-- Conversa schema, version 18: crash safety of webhooks and campaigns.

-- The events each webhook endpoint was given,
-- so that an event emitted again (a retried status_changed job) is
-- enqueued once per endpoint. Rows older than 30 days are forgotten.
-- Parallel to the SQLite schema.
CREATE TABLE webhook_events (
    endpoint_id bigint      NOT NULL,
    event_id    text        NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (endpoint_id, event_id)
);
CREATE INDEX webhook_events_created ON webhook_events (created_at);

-- A campaign's CSV upload, in pieces (seq 0, 1, ...; an empty piece ends
-- it), kept while the campaign is planning so that a planning that
-- stopped can be resumed.
CREATE TABLE campaign_uploads (
    campaign_id bigint NOT NULL REFERENCES campaigns (id),
    seq         int    NOT NULL,
    piece       bytea  NOT NULL,
    PRIMARY KEY (campaign_id, seq)
);

-- The last line of a CSV upload whose contacts are planned: where a
-- resumed planning goes on.
ALTER TABLE campaigns ADD COLUMN plan_cursor bigint NOT NULL DEFAULT 0;

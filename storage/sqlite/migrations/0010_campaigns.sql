-- Campaigns and their recipients. Times are Unix microseconds. Parallel to
-- the PostgreSQL schema.

-- A campaign: one notification purpose to an audience (a segment or a CSV
-- upload), planned, then released at the throttle's pace. segment,
-- throttle and import are JSON documents (campaign.Segment, Throttle,
-- ImportReport); segment and import '' when none.
CREATE TABLE campaigns (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id),
    name       TEXT    NOT NULL,
    purpose    TEXT    NOT NULL,
    data       TEXT    NOT NULL DEFAULT '{}',
    source     TEXT    NOT NULL,
    segment    TEXT    NOT NULL DEFAULT '',
    throttle   TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    import     TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX campaigns_tenant ON campaigns (tenant_id, id);

-- A campaign's recipient: the channel planning chose (or why none), and
-- once released the notification that carries it.
CREATE TABLE campaign_recipients (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL,
    campaign_id     INTEGER NOT NULL REFERENCES campaigns (id),
    contact_id      INTEGER NOT NULL,
    channel         TEXT    NOT NULL DEFAULT '',
    account_id      INTEGER NOT NULL DEFAULT 0,
    address         TEXT    NOT NULL DEFAULT '',
    due             INTEGER NOT NULL,
    state           TEXT    NOT NULL,
    code            TEXT    NOT NULL DEFAULT '',
    reason          TEXT    NOT NULL DEFAULT '',
    notification_id INTEGER NOT NULL DEFAULT 0,
    updated_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX campaign_recipients_contact ON campaign_recipients (campaign_id, contact_id);
CREATE INDEX campaign_recipients_planned ON campaign_recipients (campaign_id, channel, id) WHERE state = 'planned';
CREATE INDEX campaign_recipients_campaign ON campaign_recipients (campaign_id, id);

-- A tenant's endpoint for webhook events (notify/webhook): events is a
-- JSON array of event types, empty for all.
CREATE TABLE webhook_endpoints (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id),
    url        TEXT    NOT NULL,
    secret     TEXT    NOT NULL,
    events     TEXT    NOT NULL DEFAULT '[]',
    disabled   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id, id);

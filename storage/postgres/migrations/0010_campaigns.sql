-- Conversa schema, version 10: campaigns and their recipients. Parallel to
-- the SQLite schema.

-- A campaign: one notification purpose to an audience (a segment or a CSV
-- upload), planned, then released at the throttle's pace. segment,
-- throttle and import are JSON documents (campaign.Segment, Throttle,
-- ImportReport).
CREATE TABLE campaigns (
    id         bigserial   PRIMARY KEY,
    tenant_id  bigint      NOT NULL REFERENCES tenants (id),
    name       text        NOT NULL,
    purpose    text        NOT NULL,
    data       jsonb       NOT NULL DEFAULT '{}',
    source     text        NOT NULL,
    segment    jsonb,
    throttle   jsonb       NOT NULL,
    status     text        NOT NULL,
    import     jsonb,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX campaigns_tenant ON campaigns (tenant_id, id);

-- A campaign's recipient: the channel planning chose (or why none), and
-- once released the notification that carries it. tenant_id is the
-- campaign's.
CREATE TABLE campaign_recipients (
    id              bigserial   PRIMARY KEY,
    tenant_id       bigint      NOT NULL,
    campaign_id     bigint      NOT NULL REFERENCES campaigns (id),
    contact_id      bigint      NOT NULL,
    channel         text        NOT NULL DEFAULT '',
    account_id      bigint      NOT NULL DEFAULT 0,
    address         text        NOT NULL DEFAULT '',
    due             timestamptz NOT NULL,
    state           text        NOT NULL,
    code            text        NOT NULL DEFAULT '',
    reason          text        NOT NULL DEFAULT '',
    notification_id bigint      NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL
);
-- A contact is once in a campaign.
CREATE UNIQUE INDEX campaign_recipients_contact ON campaign_recipients (campaign_id, contact_id);
-- The next recipients to release, per channel.
CREATE INDEX campaign_recipients_planned ON campaign_recipients (campaign_id, channel, id) WHERE state = 'planned';
-- Listing a campaign's recipients in order.
CREATE INDEX campaign_recipients_campaign ON campaign_recipients (campaign_id, id);

-- A tenant's endpoint for webhook events (notify/webhook): events is a
-- JSON array of event types, empty for all.
CREATE TABLE webhook_endpoints (
    id         bigserial   PRIMARY KEY,
    tenant_id  bigint      NOT NULL REFERENCES tenants (id),
    url        text        NOT NULL,
    secret     text        NOT NULL,
    events     jsonb       NOT NULL DEFAULT '[]',
    disabled   boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id, id);

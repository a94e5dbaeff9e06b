-- Where a tenant's analytics events are exported (issue 11): a
-- Segment-compatible HTTP API (kind 'segment': url is the API's base, such
-- as https://api.segment.io, secret the write key) or a signed webhook
-- (kind 'webhook': url receives the batches, secret signs them). Secrets
-- are sealed like webhook endpoint secrets. events lists the event names
-- sent ('[]' is all). The report pipeline enqueues, in the transaction
-- that folds events into the aggregates, one export job per tenant with
-- an enabled destination.
CREATE TABLE analytics_destinations (
    id         bigserial   PRIMARY KEY,
    tenant_id  bigint      NOT NULL REFERENCES tenants (id),
    kind       text        NOT NULL,
    url        text        NOT NULL,
    secret     text        NOT NULL,
    events     jsonb       NOT NULL DEFAULT '[]',
    disabled   boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX analytics_destinations_tenant ON analytics_destinations (tenant_id, id);

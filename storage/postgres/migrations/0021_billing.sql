-- Billing of the tenants by the platform's operator (issue 11): plans,
-- subscriptions of tenants to plans, rates negotiated per tenant and
-- channel, and closed monthly statements. Money is bigint minor units with
-- an ISO 4217 currency; dates are days in the billing time zone, text
-- 'YYYY-MM-DD' (they sort as dates), valid_to included, '9999-12-31'
-- without end.
CREATE TABLE billing_plans (
    id            bigserial   PRIMARY KEY,
    name          text        NOT NULL,
    currency      text        NOT NULL,
    monthly_fee   bigint      NOT NULL CHECK (monthly_fee >= 0),
    default_price bigint      NOT NULL CHECK (default_price >= 0),
    prices        jsonb       NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE TABLE billing_subscriptions (
    id         bigserial   PRIMARY KEY,
    tenant_id  bigint      NOT NULL REFERENCES tenants (id),
    plan_id    bigint      NOT NULL REFERENCES billing_plans (id),
    valid_from text        NOT NULL,
    valid_to   text        NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX billing_subscriptions_tenant ON billing_subscriptions (tenant_id, valid_from);
CREATE TABLE billing_rates (
    id         bigserial   PRIMARY KEY,
    tenant_id  bigint      NOT NULL REFERENCES tenants (id),
    channel    text        NOT NULL,
    price      bigint      NOT NULL CHECK (price >= 0),
    currency   text        NOT NULL,
    valid_from text        NOT NULL,
    valid_to   text        NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX billing_rates_tenant ON billing_rates (tenant_id, channel, valid_from);
-- A closed statement, stored whole (its fees, lines and subtotals in
-- body) with its totals. It never changes: the trigger refuses updates
-- and deletes.
CREATE TABLE billing_statements (
    tenant_id   bigint      NOT NULL REFERENCES tenants (id),
    month       text        NOT NULL,
    zone        text        NOT NULL,
    currency    text        NOT NULL,
    fee_total   bigint      NOT NULL,
    usage_total bigint      NOT NULL,
    total       bigint      NOT NULL,
    body        jsonb       NOT NULL,
    closed_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, month)
);
CREATE FUNCTION billing_statements_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a closed statement never changes' USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER billing_statements_frozen BEFORE UPDATE OR DELETE ON billing_statements
    FOR EACH ROW EXECUTE FUNCTION billing_statements_frozen();
-- Statements count a tenant's cases by filing time with cases_tenant_filed
-- (tenant_id, filed_at, id), from migration 0011.

-- Billing of the tenants by the platform's operator (issue 11). Parallel
-- to the PostgreSQL schema; times are Unix microseconds, dates text
-- 'YYYY-MM-DD' in the billing time zone, valid_to included.
CREATE TABLE billing_plans (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL,
    currency      TEXT    NOT NULL,
    monthly_fee   INTEGER NOT NULL CHECK (monthly_fee >= 0),
    default_price INTEGER NOT NULL CHECK (default_price >= 0),
    prices        TEXT    NOT NULL DEFAULT '{}',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE TABLE billing_subscriptions (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id),
    plan_id    INTEGER NOT NULL REFERENCES billing_plans (id),
    valid_from TEXT    NOT NULL,
    valid_to   TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX billing_subscriptions_tenant ON billing_subscriptions (tenant_id, valid_from);
CREATE TABLE billing_rates (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id),
    channel    TEXT    NOT NULL,
    price      INTEGER NOT NULL CHECK (price >= 0),
    currency   TEXT    NOT NULL,
    valid_from TEXT    NOT NULL,
    valid_to   TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX billing_rates_tenant ON billing_rates (tenant_id, channel, valid_from);
CREATE TABLE billing_statements (
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id),
    month       TEXT    NOT NULL,
    zone        TEXT    NOT NULL,
    currency    TEXT    NOT NULL,
    fee_total   INTEGER NOT NULL,
    usage_total INTEGER NOT NULL,
    total       INTEGER NOT NULL,
    body        TEXT    NOT NULL,
    closed_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, month)
);
CREATE TRIGGER billing_statements_no_update BEFORE UPDATE ON billing_statements
BEGIN
    SELECT RAISE(ABORT, 'a closed statement never changes');
END;
CREATE TRIGGER billing_statements_no_delete BEFORE DELETE ON billing_statements
BEGIN
    SELECT RAISE(ABORT, 'a closed statement never changes');
END;
-- Statements count a tenant's cases by filing time with cases_tenant_filed
-- (tenant_id, filed_at, id), from migration 0011.

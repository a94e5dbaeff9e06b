-- A tenant's case policy, as a JSON document (handoff.CasePolicy).
CREATE TABLE case_policies (
    tenant_id  bigint      PRIMARY KEY REFERENCES tenants (id),
    policy     jsonb       NOT NULL,
    updated_at timestamptz NOT NULL
);

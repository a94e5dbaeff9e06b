package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"conversa/billing"
	"conversa/conversation"
)

var _ billing.Store = (*Store)(nil)

const planColumns = `id, name, currency, monthly_fee, default_price, prices, created_at, updated_at`

func scanPlan(row pgx.Row) (billing.Plan, error) {
	var p billing.Plan
	var prices []byte
	err := row.Scan(&p.ID, &p.Name, &p.Currency, &p.MonthlyFee, &p.DefaultPrice, &prices, &p.CreatedAt, &p.UpdatedAt)
	if err != nil {
		return p, err
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, p.SetPricesJSON(prices)
}

// CreatePlan implements billing.Store.
func (s *Store) CreatePlan(ctx context.Context, p billing.Plan) (billing.Plan, error) {
	ts := now()
	return scanPlan(s.pool.QueryRow(ctx, `INSERT INTO billing_plans (name, currency, monthly_fee, default_price, prices, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING `+planColumns, p.Name, p.Currency, p.MonthlyFee, p.DefaultPrice, p.PricesJSON(), ts))
}

// UpdatePlan implements billing.Store.
func (s *Store) UpdatePlan(ctx context.Context, p billing.Plan) (billing.Plan, error) {
	var out billing.Plan
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		old, err := scanPlan(tx.QueryRow(ctx, `SELECT `+planColumns+` FROM billing_plans WHERE id = $1 FOR UPDATE`, p.ID))
		if err != nil {
			return notFound(err, "plan")
		}
		if old.Currency != p.Currency {
			return conversation.FieldError("currency", "a plan's currency never changes (%s)", old.Currency)
		}
		out, err = scanPlan(tx.QueryRow(ctx, `UPDATE billing_plans SET name = $2, monthly_fee = $3, default_price = $4, prices = $5, updated_at = $6
			WHERE id = $1 RETURNING `+planColumns, p.ID, p.Name, p.MonthlyFee, p.DefaultPrice, p.PricesJSON(), now()))
		return err
	})
	return out, err
}

// Plan implements billing.Store.
func (s *Store) Plan(ctx context.Context, id int64) (billing.Plan, error) {
	p, err := scanPlan(s.pool.QueryRow(ctx, `SELECT `+planColumns+` FROM billing_plans WHERE id = $1`, id))
	return p, notFound(err, "plan")
}

// ListPlans implements billing.Store.
func (s *Store) ListPlans(ctx context.Context) ([]billing.Plan, error) {
	return queryAll(ctx, s.pool, scanPlan, `SELECT `+planColumns+` FROM billing_plans ORDER BY id`)
}

const subscriptionColumns = `id, tenant_id, plan_id, valid_from, valid_to, created_at`

func scanSubscription(row pgx.Row) (billing.Subscription, error) {
	var sb billing.Subscription
	err := row.Scan(&sb.ID, &sb.TenantID, &sb.PlanID, &sb.ValidFrom, &sb.ValidTo, &sb.CreatedAt)
	sb.CreatedAt = sb.CreatedAt.UTC()
	if sb.ValidTo == billing.OpenEnd {
		sb.ValidTo = ""
	}
	return sb, err
}

const rateColumns = `id, tenant_id, channel, price, currency, valid_from, valid_to, created_at`

func scanRate(row pgx.Row) (billing.Rate, error) {
	var r billing.Rate
	err := row.Scan(&r.ID, &r.TenantID, &r.Channel, &r.Price, &r.Currency, &r.ValidFrom, &r.ValidTo, &r.CreatedAt)
	r.CreatedAt = r.CreatedAt.UTC()
	if r.ValidTo == billing.OpenEnd {
		r.ValidTo = ""
	}
	return r, err
}

// terms reads a tenant's terms with q.
func terms(ctx context.Context, q querier, tenantID int64) (billing.Terms, error) {
	subs, err := queryAll(ctx, q, scanSubscription, `SELECT `+subscriptionColumns+` FROM billing_subscriptions WHERE tenant_id = $1 ORDER BY valid_from`, tenantID)
	if err != nil {
		return billing.Terms{}, err
	}
	rates, err := queryAll(ctx, q, scanRate, `SELECT `+rateColumns+` FROM billing_rates WHERE tenant_id = $1 ORDER BY channel, valid_from`, tenantID)
	if err != nil {
		return billing.Terms{}, err
	}
	plans, err := queryAll(ctx, q, scanPlan, `SELECT `+planColumns+` FROM billing_plans
		WHERE id IN (SELECT plan_id FROM billing_subscriptions WHERE tenant_id = $1)`, tenantID)
	if err != nil {
		return billing.Terms{}, err
	}
	t := billing.Terms{Subscriptions: subs, Rates: rates, Plans: map[int64]billing.Plan{}}
	for _, p := range plans {
		t.Plans[p.ID] = p
	}
	return t, nil
}

// lockTerms starts changing a tenant's terms in tx: it waits for any other
// transaction changing them (a lock per tenant, not the tenant's row,
// which ingest references) and returns ENOTFOUND unless the tenant exists.
func lockTerms(ctx context.Context, tx pgx.Tx, tenantID int64) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('conversa.billing.terms', $1))`, tenantID); err != nil {
		return err
	}
	var one int
	return notFound(tx.QueryRow(ctx, `SELECT 1 FROM tenants WHERE id = $1`, tenantID).Scan(&one), "tenant")
}

// CreateSubscription implements billing.Store.
func (s *Store) CreateSubscription(ctx context.Context, sb billing.Subscription) (billing.Subscription, error) {
	var out billing.Subscription
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockTerms(ctx, tx, sb.TenantID); err != nil {
			return err
		}
		p, err := scanPlan(tx.QueryRow(ctx, `SELECT `+planColumns+` FROM billing_plans WHERE id = $1 FOR SHARE`, sb.PlanID))
		if err != nil {
			return notFound(err, "plan")
		}
		t, err := terms(ctx, tx, sb.TenantID)
		if err != nil {
			return err
		}
		if err := t.CheckSubscription(sb, p); err != nil {
			return err
		}
		out, err = scanSubscription(tx.QueryRow(ctx, `INSERT INTO billing_subscriptions (tenant_id, plan_id, valid_from, valid_to, created_at)
			VALUES ($1, $2, $3, $4, $5) RETURNING `+subscriptionColumns, sb.TenantID, sb.PlanID, sb.ValidFrom, sb.StoredTo(), now()))
		return err
	})
	return out, err
}

// CreateRate implements billing.Store.
func (s *Store) CreateRate(ctx context.Context, r billing.Rate) (billing.Rate, error) {
	var out billing.Rate
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockTerms(ctx, tx, r.TenantID); err != nil {
			return err
		}
		t, err := terms(ctx, tx, r.TenantID)
		if err != nil {
			return err
		}
		if err := t.CheckRate(r); err != nil {
			return err
		}
		out, err = scanRate(tx.QueryRow(ctx, `INSERT INTO billing_rates (tenant_id, channel, price, currency, valid_from, valid_to, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+rateColumns, r.TenantID, r.Channel, r.Price, r.Currency, r.ValidFrom, r.StoredTo(), now()))
		return err
	})
	return out, err
}

// DeleteSubscription implements billing.Store.
func (s *Store) DeleteSubscription(ctx context.Context, tenantID, id int64) error {
	return s.deleteTerm(ctx, "billing_subscriptions", "subscription", tenantID, id)
}

// DeleteRate implements billing.Store.
func (s *Store) DeleteRate(ctx context.Context, tenantID, id int64) error {
	return s.deleteTerm(ctx, "billing_rates", "rate", tenantID, id)
}

func (s *Store) deleteTerm(ctx context.Context, table, what string, tenantID, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM `+table+` WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	if err != nil || tag.RowsAffected() == 1 {
		return err
	}
	return conversation.Errorf(conversation.ENOTFOUND, "%s not found", what)
}

// Terms implements billing.Store.
func (s *Store) Terms(ctx context.Context, tenantID int64) (billing.Terms, error) {
	return terms(ctx, s.pool, tenantID)
}

// BilledTenants implements billing.Store.
func (s *Store) BilledTenants(ctx context.Context) ([]int64, error) {
	return queryAll(ctx, s.pool, func(row pgx.Row) (int64, error) {
		var id int64
		return id, row.Scan(&id)
	}, `SELECT tenant_id FROM billing_subscriptions UNION SELECT tenant_id FROM billing_rates ORDER BY 1`)
}

// CountCases implements billing.Store.
func (s *Store) CountCases(ctx context.Context, tenantID int64, from, to time.Time) ([]billing.ChannelCount, error) {
	return queryAll(ctx, s.pool, func(row pgx.Row) (billing.ChannelCount, error) {
		var c billing.ChannelCount
		return c, row.Scan(&c.Channel, &c.Count)
	}, `SELECT channel, count(*) FROM cases WHERE tenant_id = $1 AND filed_at >= $2 AND filed_at < $3 GROUP BY channel ORDER BY channel COLLATE "C"`,
		tenantID, from, to)
}

const statementColumns = `tenant_id, month, zone, currency, fee_total, usage_total, total, body, closed_at`

func scanStatement(row pgx.Row) (billing.Statement, error) {
	var st billing.Statement
	var body []byte
	var closed time.Time
	if err := row.Scan(&st.TenantID, &st.Month, &st.Zone, &st.Currency, &st.FeeTotal, &st.UsageTotal, &st.Total, &body, &closed); err != nil {
		return st, err
	}
	return billing.DecodeStatementBody(st, body, closed.UTC())
}

// InsertStatement implements billing.Store.
func (s *Store) InsertStatement(ctx context.Context, st billing.Statement) (billing.Statement, error) {
	body, err := billing.EncodeStatementBody(st)
	if err != nil {
		return billing.Statement{}, err
	}
	out, err := scanStatement(s.pool.QueryRow(ctx, `INSERT INTO billing_statements (`+statementColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING `+statementColumns,
		st.TenantID, st.Month, st.Zone, st.Currency, st.FeeTotal, st.UsageTotal, st.Total, string(body), micro(st.ClosedAt)))
	switch {
	case isUnique(err):
		return billing.Statement{}, conversation.Errorf(conversation.ECONFLICT, "the statement of %s is closed already", st.Month)
	case isForeignKey(err):
		return billing.Statement{}, conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
	}
	return out, err
}

// ClosedStatement implements billing.Store.
func (s *Store) ClosedStatement(ctx context.Context, tenantID int64, month billing.Month) (billing.Statement, error) {
	st, err := scanStatement(s.pool.QueryRow(ctx, `SELECT `+statementColumns+` FROM billing_statements WHERE tenant_id = $1 AND month = $2`, tenantID, month))
	return st, notFound(err, "closed statement")
}

// ClosedMonths implements billing.Store.
func (s *Store) ClosedMonths(ctx context.Context, tenantID int64) ([]billing.Month, error) {
	return queryAll(ctx, s.pool, func(row pgx.Row) (string, error) {
		var m string
		return m, row.Scan(&m)
	}, `SELECT month FROM billing_statements WHERE tenant_id = $1 ORDER BY month DESC`, tenantID)
}

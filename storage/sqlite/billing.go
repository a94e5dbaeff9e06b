package sqlite

import (
	"context"
	"database/sql"
	"time"

	"conversa/billing"
	"conversa/conversation"
)

var _ billing.Store = (*Store)(nil)

const planColumns = `id, name, currency, monthly_fee, default_price, prices, created_at, updated_at`

func scanPlan(row scanner) (billing.Plan, error) {
	var p billing.Plan
	var prices string
	var created, updated int64
	err := row.Scan(&p.ID, &p.Name, &p.Currency, &p.MonthlyFee, &p.DefaultPrice, &prices, &created, &updated)
	if err != nil {
		return p, err
	}
	p.CreatedAt, p.UpdatedAt = fromMicros(created), fromMicros(updated)
	return p, p.SetPricesJSON([]byte(prices))
}

// CreatePlan implements billing.Store.
func (s *Store) CreatePlan(ctx context.Context, p billing.Plan) (billing.Plan, error) {
	ts := now()
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		p, err = scanPlan(tx.QueryRowContext(ctx, `INSERT INTO billing_plans (name, currency, monthly_fee, default_price, prices, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING `+planColumns, p.Name, p.Currency, p.MonthlyFee, p.DefaultPrice, p.PricesJSON(), micros(ts), micros(ts)))
		return err
	})
	return p, err
}

// UpdatePlan implements billing.Store.
func (s *Store) UpdatePlan(ctx context.Context, p billing.Plan) (billing.Plan, error) {
	err := s.write(ctx, func(tx *wtx) error {
		old, err := scanPlan(tx.QueryRowContext(ctx, `SELECT `+planColumns+` FROM billing_plans WHERE id = ?`, p.ID))
		if err != nil {
			return notFound(err, "plan")
		}
		if old.Currency != p.Currency {
			return conversation.FieldError("currency", "a plan's currency never changes (%s)", old.Currency)
		}
		p, err = scanPlan(tx.QueryRowContext(ctx, `UPDATE billing_plans SET name = ?, monthly_fee = ?, default_price = ?, prices = ?, updated_at = ?
			WHERE id = ? RETURNING `+planColumns, p.Name, p.MonthlyFee, p.DefaultPrice, p.PricesJSON(), micros(now()), p.ID))
		return err
	})
	return p, err
}

// Plan implements billing.Store.
func (s *Store) Plan(ctx context.Context, id int64) (billing.Plan, error) {
	p, err := scanPlan(s.rd.QueryRowContext(ctx, `SELECT `+planColumns+` FROM billing_plans WHERE id = ?`, id))
	return p, notFound(err, "plan")
}

// ListPlans implements billing.Store.
func (s *Store) ListPlans(ctx context.Context) ([]billing.Plan, error) {
	return queryAll(ctx, s.rd, scanPlan, `SELECT `+planColumns+` FROM billing_plans ORDER BY id`)
}

const subscriptionColumns = `id, tenant_id, plan_id, valid_from, valid_to, created_at`

func scanSubscription(row scanner) (billing.Subscription, error) {
	var sb billing.Subscription
	var created int64
	err := row.Scan(&sb.ID, &sb.TenantID, &sb.PlanID, &sb.ValidFrom, &sb.ValidTo, &created)
	sb.CreatedAt = fromMicros(created)
	if sb.ValidTo == billing.OpenEnd {
		sb.ValidTo = ""
	}
	return sb, err
}

const rateColumns = `id, tenant_id, channel, price, currency, valid_from, valid_to, created_at`

func scanRate(row scanner) (billing.Rate, error) {
	var r billing.Rate
	var created int64
	err := row.Scan(&r.ID, &r.TenantID, &r.Channel, &r.Price, &r.Currency, &r.ValidFrom, &r.ValidTo, &created)
	r.CreatedAt = fromMicros(created)
	if r.ValidTo == billing.OpenEnd {
		r.ValidTo = ""
	}
	return r, err
}

// terms reads a tenant's terms with q.
func terms(ctx context.Context, q interface {
	querier
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}, tenantID int64) (billing.Terms, error) {
	subs, err := queryAll(ctx, q, scanSubscription, `SELECT `+subscriptionColumns+` FROM billing_subscriptions WHERE tenant_id = ? ORDER BY valid_from`, tenantID)
	if err != nil {
		return billing.Terms{}, err
	}
	rates, err := queryAll(ctx, q, scanRate, `SELECT `+rateColumns+` FROM billing_rates WHERE tenant_id = ? ORDER BY channel, valid_from`, tenantID)
	if err != nil {
		return billing.Terms{}, err
	}
	t := billing.Terms{Subscriptions: subs, Rates: rates, Plans: map[int64]billing.Plan{}}
	for _, sb := range subs {
		if _, ok := t.Plans[sb.PlanID]; ok {
			continue
		}
		p, err := scanPlan(q.QueryRowContext(ctx, `SELECT `+planColumns+` FROM billing_plans WHERE id = ?`, sb.PlanID))
		if err != nil {
			return billing.Terms{}, err
		}
		t.Plans[p.ID] = p
	}
	return t, nil
}

// tenantExists returns ENOTFOUND unless the tenant exists.
func tenantExists(ctx context.Context, tx *wtx, tenantID int64) error {
	var one int
	return notFound(tx.QueryRowContext(ctx, `SELECT 1 FROM tenants WHERE id = ?`, tenantID).Scan(&one), "tenant")
}

// CreateSubscription implements billing.Store. Writes are serialized, so
// checking the tenant's terms in the write transaction is enough.
func (s *Store) CreateSubscription(ctx context.Context, sb billing.Subscription) (billing.Subscription, error) {
	err := s.write(ctx, func(tx *wtx) error {
		if err := tenantExists(ctx, tx, sb.TenantID); err != nil {
			return err
		}
		p, err := scanPlan(tx.QueryRowContext(ctx, `SELECT `+planColumns+` FROM billing_plans WHERE id = ?`, sb.PlanID))
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
		sb, err = scanSubscription(tx.QueryRowContext(ctx, `INSERT INTO billing_subscriptions (tenant_id, plan_id, valid_from, valid_to, created_at)
			VALUES (?, ?, ?, ?, ?) RETURNING `+subscriptionColumns, sb.TenantID, sb.PlanID, sb.ValidFrom, sb.StoredTo(), micros(now())))
		return err
	})
	return sb, err
}

// CreateRate implements billing.Store.
func (s *Store) CreateRate(ctx context.Context, r billing.Rate) (billing.Rate, error) {
	err := s.write(ctx, func(tx *wtx) error {
		if err := tenantExists(ctx, tx, r.TenantID); err != nil {
			return err
		}
		t, err := terms(ctx, tx, r.TenantID)
		if err != nil {
			return err
		}
		if err := t.CheckRate(r); err != nil {
			return err
		}
		r, err = scanRate(tx.QueryRowContext(ctx, `INSERT INTO billing_rates (tenant_id, channel, price, currency, valid_from, valid_to, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING `+rateColumns, r.TenantID, r.Channel, r.Price, r.Currency, r.ValidFrom, r.StoredTo(), micros(now())))
		return err
	})
	return r, err
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
	return s.write(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE tenant_id = ? AND id = ?`, tenantID, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		return conversation.Errorf(conversation.ENOTFOUND, "%s not found", what)
	})
}

// Terms implements billing.Store.
func (s *Store) Terms(ctx context.Context, tenantID int64) (billing.Terms, error) {
	return terms(ctx, s.rd, tenantID)
}

// BilledTenants implements billing.Store.
func (s *Store) BilledTenants(ctx context.Context) ([]int64, error) {
	return queryAll(ctx, s.rd, func(row scanner) (int64, error) {
		var id int64
		return id, row.Scan(&id)
	}, `SELECT tenant_id FROM billing_subscriptions UNION SELECT tenant_id FROM billing_rates ORDER BY 1`)
}

// CountCases implements billing.Store.
func (s *Store) CountCases(ctx context.Context, tenantID int64, from, to time.Time) ([]billing.ChannelCount, error) {
	return queryAll(ctx, s.rd, func(row scanner) (billing.ChannelCount, error) {
		var c billing.ChannelCount
		return c, row.Scan(&c.Channel, &c.Count)
	}, `SELECT channel, count(*) FROM cases WHERE tenant_id = ? AND filed_at >= ? AND filed_at < ? GROUP BY channel ORDER BY channel`,
		tenantID, micros(from), micros(to))
}

const statementColumns = `tenant_id, month, zone, currency, fee_total, usage_total, total, body, closed_at`

func scanStatement(row scanner) (billing.Statement, error) {
	var st billing.Statement
	var body string
	var closed int64
	if err := row.Scan(&st.TenantID, &st.Month, &st.Zone, &st.Currency, &st.FeeTotal, &st.UsageTotal, &st.Total, &body, &closed); err != nil {
		return st, err
	}
	return billing.DecodeStatementBody(st, []byte(body), fromMicros(closed))
}

// InsertStatement implements billing.Store.
func (s *Store) InsertStatement(ctx context.Context, st billing.Statement) (billing.Statement, error) {
	body, err := billing.EncodeStatementBody(st)
	if err != nil {
		return billing.Statement{}, err
	}
	err = s.write(ctx, func(tx *wtx) error {
		var err error
		st, err = scanStatement(tx.QueryRowContext(ctx, `INSERT INTO billing_statements (`+statementColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+statementColumns,
			st.TenantID, st.Month, st.Zone, st.Currency, st.FeeTotal, st.UsageTotal, st.Total, string(body), micros(st.ClosedAt)))
		switch {
		case isUnique(err):
			return conversation.Errorf(conversation.ECONFLICT, "the statement of %s is closed already", st.Month)
		case isForeignKey(err):
			return conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
		}
		return err
	})
	return st, err
}

// ClosedStatement implements billing.Store.
func (s *Store) ClosedStatement(ctx context.Context, tenantID int64, month billing.Month) (billing.Statement, error) {
	st, err := scanStatement(s.rd.QueryRowContext(ctx, `SELECT `+statementColumns+` FROM billing_statements WHERE tenant_id = ? AND month = ?`, tenantID, month))
	return st, notFound(err, "closed statement")
}

// ClosedMonths implements billing.Store.
func (s *Store) ClosedMonths(ctx context.Context, tenantID int64) ([]billing.Month, error) {
	return queryAll(ctx, s.rd, func(row scanner) (string, error) {
		var m string
		return m, row.Scan(&m)
	}, `SELECT month FROM billing_statements WHERE tenant_id = ? ORDER BY month DESC`, tenantID)
}

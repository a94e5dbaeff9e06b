package postgres

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"conversa/conversation"
)

// LastInbound implements conversation.Store.
func (s *Store) LastInbound(ctx context.Context, tenantID, contactID, accountID int64) (time.Time, error) {
	var at *time.Time
	err := s.pool.QueryRow(ctx, `SELECT max(created_at) FROM messages
		WHERE tenant_id = $1 AND contact_id = $2 AND channel_account_id = $3 AND direction = 'in'`,
		tenantID, contactID, accountID).Scan(&at)
	return timeOf(at), err
}

// RecordConsent implements conversation.Store.
func (s *Store) RecordConsent(ctx context.Context, c conversation.ConsentChange) (conversation.ConsentChange, error) {
	if c.At.IsZero() {
		c.At = now()
	}
	c.At = c.At.UTC().Truncate(time.Microsecond)
	err := s.pool.QueryRow(ctx, `INSERT INTO consent_changes
		(tenant_id, account_id, contact_id, channel, address, opted_out, source, provider_id, at, purpose)
		SELECT tenant_id, id, $3, $4, $5, $6, $7, $8, $9, $10 FROM channel_accounts WHERE id = $1 AND tenant_id = $2
		ON CONFLICT (account_id, provider_id) WHERE provider_id <> '' DO NOTHING
		RETURNING id`,
		c.AccountID, c.TenantID, c.ContactID, c.Channel, c.Address, c.OptedOut, c.Source, c.ProviderID, c.At, c.Purpose).Scan(&c.ID)
	if errors.Is(err, pgx.ErrNoRows) && c.ProviderID != "" {
		// Recorded before, or the account is not the tenant's.
		rows, qerr := s.pool.Query(ctx, `SELECT `+consentColumns+` FROM consent_changes
			WHERE account_id = $1 AND provider_id = $2 AND tenant_id = $3`, c.AccountID, c.ProviderID, c.TenantID)
		if qerr != nil {
			return c, qerr
		}
		first, qerr := pgx.CollectExactlyOneRow(rows, scanConsent)
		if qerr == nil {
			return first, nil
		}
		if !errors.Is(qerr, pgx.ErrNoRows) {
			return c, qerr
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return c, conversation.Errorf(conversation.ENOTFOUND, "channel account not found")
	}
	return c, err
}

const consentColumns = `id, tenant_id, account_id, contact_id, channel, address, opted_out, source, provider_id, at, purpose`

func scanConsent(row pgx.CollectableRow) (conversation.ConsentChange, error) {
	var c conversation.ConsentChange
	err := row.Scan(&c.ID, &c.TenantID, &c.AccountID, &c.ContactID, &c.Channel, &c.Address, &c.OptedOut, &c.Source, &c.ProviderID, &c.At, &c.Purpose)
	c.At = c.At.UTC()
	return c, err
}

// OptedOut implements conversation.Store.
func (s *Store) OptedOut(ctx context.Context, tenantID, accountID int64, address string) (bool, error) {
	return s.OptedOutOf(ctx, tenantID, accountID, address, "")
}

// OptedOutOf implements conversation.Store.
func (s *Store) OptedOutOf(ctx context.Context, tenantID, accountID int64, address, purpose string) (bool, error) {
	var out bool
	err := s.pool.QueryRow(ctx, `SELECT opted_out FROM consent_changes
		WHERE account_id = $1 AND address = $2 AND purpose = $3 AND tenant_id = $4 ORDER BY id DESC LIMIT 1`,
		accountID, address, purpose, tenantID).Scan(&out)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return out, err
}

// ListConsent implements conversation.Store.
func (s *Store) ListConsent(ctx context.Context, tenantID int64, f conversation.ConsentFilter) ([]conversation.ConsentChange, error) {
	where, args := []string{"tenant_id = $1"}, []any{tenantID}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, cond+" $"+strconv.Itoa(len(args)))
	}
	if f.ContactID != 0 {
		add("contact_id =", f.ContactID)
	}
	if f.AccountID != 0 {
		add("account_id =", f.AccountID)
	}
	if f.Address != "" {
		add("address =", f.Address)
	}
	if f.BeforeID != 0 {
		add("id <", f.BeforeID)
	}
	args = append(args, conversation.ClampLimit(f.Limit))
	rows, err := s.pool.Query(ctx, `SELECT `+consentColumns+`
		FROM consent_changes WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanConsent)
}

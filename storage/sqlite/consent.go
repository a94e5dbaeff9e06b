package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"conversa/conversation"
)

// LastInbound implements conversation.Store.
func (s *Store) LastInbound(ctx context.Context, tenantID, contactID, accountID int64) (time.Time, error) {
	var at sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT max(created_at) FROM messages
		WHERE tenant_id = ? AND contact_id = ? AND channel_account_id = ? AND direction = 'in'`,
		tenantID, contactID, accountID).Scan(&at)
	if err != nil || !at.Valid {
		return time.Time{}, err
	}
	return fromMicros(at.Int64), nil
}

// RecordConsent implements conversation.Store.
func (s *Store) RecordConsent(ctx context.Context, c conversation.ConsentChange) (conversation.ConsentChange, error) {
	if c.At.IsZero() {
		c.At = now()
	}
	c.At = c.At.UTC().Truncate(time.Microsecond)
	var first *conversation.ConsentChange
	err := s.write(ctx, func(tx *wtx) error {
		if c.ProviderID != "" {
			earlier, err := scanConsent(tx.QueryRowContext(ctx, `SELECT `+consentColumns+` FROM consent_changes
				WHERE account_id = ? AND provider_id = ? AND tenant_id = ?`, c.AccountID, c.ProviderID, c.TenantID))
			if err == nil {
				first = &earlier
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		return tx.QueryRowContext(ctx, `INSERT INTO consent_changes
			(tenant_id, account_id, contact_id, channel, address, opted_out, source, provider_id, at, purpose)
			SELECT tenant_id, id, ?, ?, ?, ?, ?, ?, ?, ? FROM channel_accounts WHERE id = ? AND tenant_id = ?
			RETURNING id`,
			c.ContactID, c.Channel, c.Address, c.OptedOut, c.Source, c.ProviderID, micros(c.At), c.Purpose, c.AccountID, c.TenantID).Scan(&c.ID)
	})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return c, conversation.Errorf(conversation.ENOTFOUND, "channel account not found")
	case err == nil && first != nil:
		return *first, nil
	}
	return c, err
}

const consentColumns = `id, tenant_id, account_id, contact_id, channel, address, opted_out, source, provider_id, at, purpose`

func scanConsent(row scanner) (conversation.ConsentChange, error) {
	var c conversation.ConsentChange
	var at int64
	err := row.Scan(&c.ID, &c.TenantID, &c.AccountID, &c.ContactID, &c.Channel, &c.Address, &c.OptedOut, &c.Source, &c.ProviderID, &at, &c.Purpose)
	c.At = fromMicros(at)
	return c, err
}

// OptedOut implements conversation.Store.
func (s *Store) OptedOut(ctx context.Context, tenantID, accountID int64, address string) (bool, error) {
	return s.OptedOutOf(ctx, tenantID, accountID, address, "")
}

// OptedOutOf implements conversation.Store.
func (s *Store) OptedOutOf(ctx context.Context, tenantID, accountID int64, address, purpose string) (bool, error) {
	var out bool
	err := s.r.QueryRowContext(ctx, `SELECT opted_out FROM consent_changes
		WHERE account_id = ? AND address = ? AND purpose = ? AND tenant_id = ? ORDER BY id DESC LIMIT 1`,
		accountID, address, purpose, tenantID).Scan(&out)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return out, err
}

// ListConsent implements conversation.Store.
func (s *Store) ListConsent(ctx context.Context, tenantID int64, f conversation.ConsentFilter) ([]conversation.ConsentChange, error) {
	where, args := []string{"tenant_id = ?"}, []any{tenantID}
	if f.ContactID != 0 {
		where, args = append(where, "contact_id = ?"), append(args, f.ContactID)
	}
	if f.AccountID != 0 {
		where, args = append(where, "account_id = ?"), append(args, f.AccountID)
	}
	if f.Address != "" {
		where, args = append(where, "address = ?"), append(args, f.Address)
	}
	if f.BeforeID != 0 {
		where, args = append(where, "id < ?"), append(args, f.BeforeID)
	}
	args = append(args, conversation.ClampLimit(f.Limit))
	rows, err := s.r.QueryContext(ctx, `SELECT `+consentColumns+`
		FROM consent_changes WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []conversation.ConsentChange
	for rows.Next() {
		c, err := scanConsent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

package postgres

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"conversa/conversation"
	"conversa/notify"
)

var _ notify.StaffStore = (*Store)(nil)

const staffColumns = `id, tenant_id, key, address, name, language, purpose, data::text, status, account_id, message_id, note,
	sent_at, created_at, updated_at`

func scanStaffEmail(row pgx.Row) (notify.StaffEmail, error) {
	var m notify.StaffEmail
	var data string
	var sent *time.Time
	err := row.Scan(&m.ID, &m.TenantID, &m.Key, &m.To, &m.Name, &m.Language, &m.Purpose, &data, &m.Status, &m.AccountID,
		&m.MessageID, &m.Note, &sent, &m.CreatedAt, &m.UpdatedAt)
	if err != nil {
		return m, err
	}
	m.SentAt, m.CreatedAt, m.UpdatedAt = timeOf(sent), m.CreatedAt.UTC(), m.UpdatedAt.UTC()
	return m, decodeJSON(data, &m.Data)
}

// CreateStaffEmail implements notify.StaffStore. The insert skips a
// conflict with the key's index, waiting for a concurrent insert of the
// same key to commit, and then reads the winner.
func (s *Store) CreateStaffEmail(ctx context.Context, m notify.StaffEmail) (notify.StaffEmail, bool, error) {
	var out notify.StaffEmail
	created := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		ts := now()
		var err error
		out, err = scanStaffEmail(tx.QueryRow(ctx, `INSERT INTO staff_emails (tenant_id, key, address, name, language,
				purpose, data, status, account_id, note, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $11)
			ON CONFLICT (tenant_id, key) DO NOTHING
			RETURNING `+staffColumns,
			m.TenantID, m.Key, m.To, m.Name, m.Language, m.Purpose, encodeJSON(m.Data, "{}"), m.Status, m.AccountID, m.Note, ts))
		switch {
		case isForeignKey(err):
			return conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
		case errors.Is(err, pgx.ErrNoRows):
			out, err = scanStaffEmail(tx.QueryRow(ctx, `SELECT `+staffColumns+` FROM staff_emails WHERE tenant_id = $1 AND key = $2`,
				m.TenantID, m.Key))
			return err
		case err != nil:
			return err
		}
		created = true
		if out.Status != notify.StatusScheduled {
			return nil
		}
		_, err = tx.Exec(ctx, `INSERT INTO jobs (tenant_id, kind, ref, key, state, run_at, max_attempts, created_at, updated_at)
			VALUES ($1, $2, $3, $4, 'pending', $5, $6, $5, $5)
			ON CONFLICT (tenant_id, key) WHERE key IS NOT NULL AND state <> 'failed' DO NOTHING`,
			out.TenantID, notify.JobStaffEmail, out.ID, notify.StaffJobKey(out.ID), ts, notify.StaffMaxAttempts)
		return err
	})
	if err != nil {
		return notify.StaffEmail{}, false, err
	}
	return out, created, nil
}

// StaffEmail implements notify.StaffStore.
func (s *Store) StaffEmail(ctx context.Context, tenantID, id int64) (notify.StaffEmail, error) {
	m, err := scanStaffEmail(s.pool.QueryRow(ctx, `SELECT `+staffColumns+` FROM staff_emails WHERE id = $1 AND tenant_id = $2`, id, tenantID))
	return m, notFound(err, "staff email")
}

// ListStaffEmails implements notify.StaffStore.
func (s *Store) ListStaffEmails(ctx context.Context, tenantID int64, f notify.StaffFilter) ([]notify.StaffEmail, error) {
	where, args := []string{"tenant_id = $1"}, []any{tenantID}
	if f.Status != "" {
		args = append(args, f.Status)
		where = append(where, "status = $"+strconv.Itoa(len(args)))
	}
	if f.BeforeID != 0 {
		args = append(args, f.BeforeID)
		where = append(where, "id < $"+strconv.Itoa(len(args)))
	}
	args = append(args, conversation.ClampLimit(f.Limit))
	return queryAll(ctx, s.pool, scanStaffEmail, `SELECT `+staffColumns+` FROM staff_emails
		WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
}

// NoteStaffEmail implements notify.StaffStore.
func (s *Store) NoteStaffEmail(ctx context.Context, tenantID, id int64, note string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE staff_emails SET note = $1, updated_at = $2 WHERE id = $3 AND tenant_id = $4 AND status = 'scheduled'`,
		note, now(), id, tenantID)
	if err != nil || tag.RowsAffected() == 1 {
		return err
	}
	_, err = s.staffNotScheduled(ctx, tenantID, id)
	return err
}

// staffNotScheduled explains why a staff email could not change: it is
// not the tenant's, or no longer scheduled (returned).
func (s *Store) staffNotScheduled(ctx context.Context, tenantID, id int64) (notify.StaffEmail, error) {
	m, err := s.StaffEmail(ctx, tenantID, id)
	if err != nil {
		return m, err
	}
	return m, conversation.Errorf(conversation.ECONFLICT, "the staff email is %s, no longer scheduled", m.Status)
}

// FinishStaffEmail implements notify.StaffStore.
func (s *Store) FinishStaffEmail(ctx context.Context, m notify.StaffEmail) (notify.StaffEmail, error) {
	out, err := scanStaffEmail(s.pool.QueryRow(ctx, `UPDATE staff_emails SET status = $1, account_id = $2, message_id = $3, note = $4,
			sent_at = $5, updated_at = $6
		WHERE id = $7 AND tenant_id = $8 AND status = 'scheduled' RETURNING `+staffColumns,
		m.Status, m.AccountID, m.MessageID, m.Note, nullTime(micro(m.SentAt)), now(), m.ID, m.TenantID))
	if errors.Is(err, pgx.ErrNoRows) {
		return s.staffNotScheduled(ctx, m.TenantID, m.ID)
	}
	return out, err
}

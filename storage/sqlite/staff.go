package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"conversa/conversation"
	"conversa/notify"
)

var _ notify.StaffStore = (*Store)(nil)

const staffColumns = `id, tenant_id, key, address, name, language, purpose, data, status, account_id, message_id, note,
	sent_at, created_at, updated_at`

func scanStaffEmail(row scanner) (notify.StaffEmail, error) {
	var m notify.StaffEmail
	var data string
	var sent, created, updated int64
	err := row.Scan(&m.ID, &m.TenantID, &m.Key, &m.To, &m.Name, &m.Language, &m.Purpose, &data, &m.Status, &m.AccountID,
		&m.MessageID, &m.Note, &sent, &created, &updated)
	if err != nil {
		return m, err
	}
	m.SentAt, m.CreatedAt, m.UpdatedAt = fromMicros(sent), fromMicros(created), fromMicros(updated)
	return m, decodeJSON(data, &m.Data)
}

// CreateStaffEmail implements notify.StaffStore. Writes are serialized,
// so the lookup of the key and the insert see no other in between.
func (s *Store) CreateStaffEmail(ctx context.Context, m notify.StaffEmail) (notify.StaffEmail, bool, error) {
	created := false
	err := s.write(ctx, func(tx *wtx) error {
		old, err := scanStaffEmail(tx.QueryRowContext(ctx, `SELECT `+staffColumns+` FROM staff_emails WHERE tenant_id = ? AND key = ?`,
			m.TenantID, m.Key))
		if err == nil {
			m = old
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		ts := now()
		stored, err := scanStaffEmail(tx.QueryRowContext(ctx, `INSERT INTO staff_emails (tenant_id, key, address, name, language,
				purpose, data, status, account_id, note, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+staffColumns,
			m.TenantID, m.Key, m.To, m.Name, m.Language, m.Purpose, encodeJSON(m.Data, "{}"), m.Status, m.AccountID, m.Note,
			micros(ts), micros(ts)))
		if isForeignKey(err) {
			return conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
		}
		if err != nil {
			return err
		}
		if stored.Status == notify.StatusScheduled {
			_, err = tx.ExecContext(ctx, `INSERT INTO jobs (tenant_id, kind, ref, key, state, run_at, max_attempts, created_at, updated_at)
				VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?)
				ON CONFLICT (tenant_id, key) WHERE key IS NOT NULL AND state <> 'failed' DO NOTHING`,
				stored.TenantID, notify.JobStaffEmail, stored.ID, notify.StaffJobKey(stored.ID), micros(ts), notify.StaffMaxAttempts,
				micros(ts), micros(ts))
			if err != nil {
				return err
			}
		}
		m, created = stored, true
		return nil
	})
	if err != nil {
		return notify.StaffEmail{}, false, err
	}
	return m, created, nil
}

// StaffEmail implements notify.StaffStore.
func (s *Store) StaffEmail(ctx context.Context, tenantID, id int64) (notify.StaffEmail, error) {
	m, err := scanStaffEmail(s.rd.QueryRowContext(ctx, `SELECT `+staffColumns+` FROM staff_emails WHERE id = ? AND tenant_id = ?`, id, tenantID))
	return m, notFound(err, "staff email")
}

// ListStaffEmails implements notify.StaffStore.
func (s *Store) ListStaffEmails(ctx context.Context, tenantID int64, f notify.StaffFilter) ([]notify.StaffEmail, error) {
	where, args := []string{"tenant_id = ?"}, []any{tenantID}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, f.Status)
	}
	if f.BeforeID != 0 {
		where, args = append(where, "id < ?"), append(args, f.BeforeID)
	}
	args = append(args, conversation.ClampLimit(f.Limit))
	return queryAll(ctx, s.rd, scanStaffEmail, `SELECT `+staffColumns+` FROM staff_emails
		WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT ?`, args...)
}

// NoteStaffEmail implements notify.StaffStore.
func (s *Store) NoteStaffEmail(ctx context.Context, tenantID, id int64, note string) error {
	return s.write(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE staff_emails SET note = ?, updated_at = ? WHERE id = ? AND tenant_id = ? AND status = 'scheduled'`,
			note, micros(now()), id, tenantID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		_, err = staffNotScheduled(ctx, tx, tenantID, id)
		return err
	})
}

// staffNotScheduled explains why a staff email could not change: it is
// not the tenant's, or no longer scheduled (returned).
func staffNotScheduled(ctx context.Context, tx *wtx, tenantID, id int64) (notify.StaffEmail, error) {
	m, err := scanStaffEmail(tx.QueryRowContext(ctx, `SELECT `+staffColumns+` FROM staff_emails WHERE id = ? AND tenant_id = ?`, id, tenantID))
	if err != nil {
		return m, notFound(err, "staff email")
	}
	return m, conversation.Errorf(conversation.ECONFLICT, "the staff email is %s, no longer scheduled", m.Status)
}

// FinishStaffEmail implements notify.StaffStore.
func (s *Store) FinishStaffEmail(ctx context.Context, m notify.StaffEmail) (notify.StaffEmail, error) {
	var out notify.StaffEmail
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		out, err = scanStaffEmail(tx.QueryRowContext(ctx, `UPDATE staff_emails SET status = ?, account_id = ?, message_id = ?, note = ?,
				sent_at = ?, updated_at = ?
			WHERE id = ? AND tenant_id = ? AND status = 'scheduled' RETURNING `+staffColumns,
			m.Status, m.AccountID, m.MessageID, m.Note, micros(m.SentAt.Truncate(time.Microsecond)), micros(now()), m.ID, m.TenantID))
		if errors.Is(err, sql.ErrNoRows) {
			out, err = staffNotScheduled(ctx, tx, m.TenantID, m.ID)
		}
		return err
	})
	return out, err
}

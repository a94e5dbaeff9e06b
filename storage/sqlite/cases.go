package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"conversa/conversation"
	"conversa/handoff"
)

var _ handoff.CaseStore = (*Store)(nil)

const caseColumns = `id, tenant_id, radicado, type, status, contact_id, conversation_id, channel, subject, description,
	fields, priority, term_days, due, extended_days, extension_note, filed_at, updated_at, version, source,
	term_hours, assignee_id, team_id, paused_at, pause_reason, paused_units`

func scanCase(row scanner) (handoff.Case, error) {
	var c handoff.Case
	var fields string
	var due, filed, updated, paused int64
	err := row.Scan(&c.ID, &c.TenantID, &c.Radicado, &c.Type, &c.Status, &c.ContactID, &c.ConversationID, &c.Channel,
		&c.Subject, &c.Description, &fields, &c.Priority, &c.TermDays, &due, &c.ExtendedDays, &c.ExtensionNote,
		&filed, &updated, &c.Version, &c.Source,
		&c.TermHours, &c.AssigneeID, &c.TeamID, &paused, &c.PauseReason, &c.PausedUnits)
	if err != nil {
		return c, err
	}
	c.Due, c.FiledAt, c.UpdatedAt, c.PausedAt = fromMicros(due), fromMicros(filed), fromMicros(updated), fromMicros(paused)
	c.Fields, err = decodeFields(fields)
	return c, err
}

func scanCaseEvent(row scanner) (handoff.CaseEvent, error) {
	var ev handoff.CaseEvent
	var created int64
	err := row.Scan(&ev.ID, &ev.CaseID, &ev.Kind, &ev.Actor, &ev.From, &ev.To, &ev.Note, &created)
	ev.CreatedAt = fromMicros(created)
	return ev, err
}

// encodeFields stores a case's fields as a JSON object; none is "{}".
func encodeFields(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode case fields: %w", err)
	}
	return string(b), nil
}

// decodeFields reads stored fields back; an empty object is nil.
func decodeFields(s string) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("decode case fields: %w", err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// normalizeCase brings c's times to the stored precision, in their
// locations.
func normalizeCase(c *handoff.Case) {
	c.Due = c.Due.Truncate(time.Microsecond)
	c.FiledAt = c.FiledAt.Truncate(time.Microsecond)
	c.UpdatedAt = c.UpdatedAt.Truncate(time.Microsecond)
	c.PausedAt = c.PausedAt.Truncate(time.Microsecond)
}

// insertCaseEvent appends ev to the case's history; a zero CreatedAt is at.
func insertCaseEvent(ctx context.Context, tx *wtx, tenantID, caseID int64, ev handoff.CaseEvent, at time.Time) error {
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = at
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO case_events (tenant_id, case_id, kind, actor, from_status, to_status, note, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		tenantID, caseID, ev.Kind, ev.Actor, ev.From, ev.To, ev.Note, micros(ev.CreatedAt))
	return err
}

// CreateCase implements handoff.CaseStore. Writes are serialized, so the
// upsert of the tenant's sequence row gives the next number. A zero FiledAt
// is now; UpdatedAt is FiledAt; a first event without CreatedAt is at
// FiledAt.
func (s *Store) CreateCase(ctx context.Context, c *handoff.Case, prefix string, first handoff.CaseEvent) error {
	if c.FiledAt.IsZero() {
		c.FiledAt = now()
	}
	normalizeCase(c)
	fields, err := encodeFields(c.Fields)
	if err != nil {
		return err
	}
	year := c.FiledAt.UTC().Year()
	var id, seq int64
	var radicado string
	err = s.write(ctx, func(tx *wtx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO case_sequences (tenant_id, year, last) VALUES (?, ?, 1)
			ON CONFLICT (tenant_id, year) DO UPDATE SET last = case_sequences.last + 1
			RETURNING last`, c.TenantID, year).Scan(&seq)
		if isForeignKey(err) {
			return conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
		}
		if err != nil {
			return err
		}
		radicado = handoff.FormatRadicado(prefix, year, seq)
		err = tx.QueryRowContext(ctx, `INSERT INTO cases (tenant_id, radicado, type, status, contact_id, conversation_id, channel,
			subject, description, fields, priority, term_days, due, extended_days, extension_note, filed_at, updated_at, version, source,
			term_hours, assignee_id, team_id, paused_at, pause_reason, paused_units)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			c.TenantID, radicado, c.Type, c.Status, c.ContactID, c.ConversationID, c.Channel,
			c.Subject, c.Description, fields, c.Priority, c.TermDays, micros(c.Due), c.ExtendedDays, c.ExtensionNote,
			micros(c.FiledAt), micros(c.FiledAt), c.Source,
			c.TermHours, c.AssigneeID, c.TeamID, micros(c.PausedAt), c.PauseReason, c.PausedUnits).Scan(&id)
		if isUnique(err) {
			// The transaction rolls back, and the number with it.
			return conversation.Errorf(conversation.ECONFLICT, "a case with filing number %s or source %q exists", radicado, c.Source)
		}
		if err != nil {
			return err
		}
		return insertCaseEvent(ctx, tx, c.TenantID, id, first, c.FiledAt)
	})
	if err != nil {
		return err
	}
	c.ID, c.Radicado, c.Version, c.UpdatedAt = id, radicado, 1, c.FiledAt
	return nil
}

// Case implements handoff.CaseStore.
func (s *Store) Case(ctx context.Context, tenantID, id int64) (handoff.Case, error) {
	c, err := scanCase(s.rd.QueryRowContext(ctx, `SELECT `+caseColumns+` FROM cases WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return c, notFound(err, "case")
}

// CaseBySource implements handoff.CaseStore.
func (s *Store) CaseBySource(ctx context.Context, tenantID int64, source string) (handoff.Case, error) {
	if source == "" {
		return handoff.Case{}, conversation.Errorf(conversation.ENOTFOUND, "case not found")
	}
	c, err := scanCase(s.rd.QueryRowContext(ctx, `SELECT `+caseColumns+` FROM cases WHERE tenant_id = ? AND source = ?`, tenantID, source))
	return c, notFound(err, "case")
}

// CaseByRadicado implements handoff.CaseStore.
func (s *Store) CaseByRadicado(ctx context.Context, tenantID int64, radicado string) (handoff.Case, error) {
	c, err := scanCase(s.rd.QueryRowContext(ctx, `SELECT `+caseColumns+` FROM cases WHERE tenant_id = ? AND radicado = ?`,
		tenantID, radicado))
	return c, notFound(err, "case")
}

// UpdateCase implements handoff.CaseStore. It changes everything but the
// ID, tenant, filing number and FiledAt. An event without CreatedAt is at
// the new UpdatedAt.
func (s *Store) UpdateCase(ctx context.Context, c *handoff.Case, ev handoff.CaseEvent) error {
	normalizeCase(c)
	fields, err := encodeFields(c.Fields)
	if err != nil {
		return err
	}
	ts := now()
	var version int64
	err = s.write(ctx, func(tx *wtx) error {
		err := tx.QueryRowContext(ctx, `UPDATE cases SET type = ?, status = ?, contact_id = ?, conversation_id = ?, channel = ?,
			subject = ?, description = ?, fields = ?, priority = ?, term_days = ?, due = ?, extended_days = ?, extension_note = ?,
			term_hours = ?, assignee_id = ?, team_id = ?, paused_at = ?, pause_reason = ?, paused_units = ?,
			updated_at = ?, version = version + 1
			WHERE tenant_id = ? AND id = ? AND version = ? RETURNING version`,
			c.Type, c.Status, c.ContactID, c.ConversationID, c.Channel,
			c.Subject, c.Description, fields, c.Priority, c.TermDays, micros(c.Due), c.ExtendedDays, c.ExtensionNote,
			c.TermHours, c.AssigneeID, c.TeamID, micros(c.PausedAt), c.PauseReason, c.PausedUnits,
			micros(ts), c.TenantID, c.ID, c.Version).Scan(&version)
		if errors.Is(err, sql.ErrNoRows) {
			var one int
			if err := tx.QueryRowContext(ctx, `SELECT 1 FROM cases WHERE tenant_id = ? AND id = ?`, c.TenantID, c.ID).Scan(&one); err != nil {
				return notFound(err, "case")
			}
			return conversation.Errorf(conversation.ECONFLICT, "the case changed")
		}
		if err != nil {
			return err
		}
		return insertCaseEvent(ctx, tx, c.TenantID, c.ID, ev, ts)
	})
	if err != nil {
		return err
	}
	c.Version, c.UpdatedAt = version, ts
	return nil
}

// CaseHistory implements handoff.CaseStore. Returns ENOTFOUND when the
// case is not the tenant's.
func (s *Store) CaseHistory(ctx context.Context, tenantID, caseID int64) ([]handoff.CaseEvent, error) {
	evs, err := queryAll(ctx, s.rd, scanCaseEvent, `SELECT id, case_id, kind, actor, from_status, to_status, note, created_at
		FROM case_events WHERE case_id = ? AND tenant_id = ? ORDER BY id`, caseID, tenantID)
	if err != nil || len(evs) > 0 {
		return evs, err
	}
	// Every case has its first event: none means no such case.
	var one int
	err = s.rd.QueryRowContext(ctx, `SELECT 1 FROM cases WHERE tenant_id = ? AND id = ?`, tenantID, caseID).Scan(&one)
	return nil, notFound(err, "case")
}

// Limits of a page of cases.
const (
	defaultCaseLimit = 50
	maxCaseLimit     = 500
)

// ListCases implements handoff.CaseStore.
func (s *Store) ListCases(ctx context.Context, tenantID int64, f handoff.CaseFilter) ([]handoff.Case, error) {
	where := []string{"tenant_id = ?"}
	args := []any{tenantID}
	in := func(col string, vals []string) {
		if len(vals) == 0 {
			return
		}
		where = append(where, col+" IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(vals)), ", ")+")")
		for _, v := range vals {
			args = append(args, v)
		}
	}
	statuses := make([]string, len(f.Status))
	for i, st := range f.Status {
		statuses[i] = string(st)
	}
	in("status", statuses)
	types := make([]string, len(f.Type))
	for i, t := range f.Type {
		types[i] = string(t)
	}
	in("type", types)
	if f.Channel != "" {
		where, args = append(where, "channel = ?"), append(args, f.Channel)
	}
	if f.ContactID != 0 {
		where, args = append(where, "contact_id = ?"), append(args, f.ContactID)
	}
	if !f.FiledFrom.IsZero() {
		where, args = append(where, "filed_at >= ?"), append(args, f.FiledFrom.UnixMicro())
	}
	if !f.FiledTo.IsZero() {
		where, args = append(where, "filed_at < ?"), append(args, f.FiledTo.UnixMicro())
	}
	if !f.OverdueAt.IsZero() {
		where = append(where, "status NOT IN (?, ?) AND due < ? AND paused_at = 0")
		args = append(args, string(handoff.Resuelto), string(handoff.Cerrado), f.OverdueAt.UnixMicro())
	}
	if f.AssigneeID != 0 {
		where, args = append(where, "assignee_id = ?"), append(args, f.AssigneeID)
	}
	if f.TeamID != 0 {
		where, args = append(where, "team_id = ?"), append(args, f.TeamID)
	}
	if f.Paused {
		where = append(where, "paused_at <> 0")
	}
	order := "id DESC"
	dated := !f.FiledFrom.IsZero() || !f.FiledTo.IsZero()
	if dated {
		order = "filed_at DESC, id DESC"
	}
	switch {
	case dated && !f.BeforeFiled.IsZero():
		where = append(where, "(filed_at < ? OR (filed_at = ? AND id < ?))")
		args = append(args, f.BeforeFiled.UnixMicro(), f.BeforeFiled.UnixMicro(), cmp.Or(f.Before, math.MaxInt64))
	case f.Before != 0:
		where, args = append(where, "id < ?"), append(args, f.Before)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultCaseLimit
	}
	limit = min(limit, maxCaseLimit)
	args = append(args, limit)
	cs, err := queryAll(ctx, s.rd, scanCase, `SELECT `+caseColumns+` FROM cases WHERE `+strings.Join(where, " AND ")+
		` ORDER BY `+order+` LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	return cs, nil
}

// AddCaseAttachment implements handoff.CaseStore.
func (s *Store) AddCaseAttachment(ctx context.Context, a *handoff.CaseAttachment, ev handoff.CaseEvent) error {
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now()
	}
	a.CreatedAt = a.CreatedAt.Truncate(time.Microsecond)
	return s.write(ctx, func(tx *wtx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM cases WHERE tenant_id = ? AND id = ?`, a.TenantID, a.CaseID).Scan(&one); err != nil {
			return notFound(err, "case")
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO case_attachments (tenant_id, case_id, media_key, content_type, filename, size, added_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			a.TenantID, a.CaseID, a.Key, a.ContentType, a.Filename, a.Size, a.AddedBy, micros(a.CreatedAt)).Scan(&a.ID)
		if err != nil {
			return err
		}
		return insertCaseEvent(ctx, tx, a.TenantID, a.CaseID, ev, a.CreatedAt)
	})
}

// CaseAttachments implements handoff.CaseStore.
func (s *Store) CaseAttachments(ctx context.Context, tenantID, caseID int64) ([]handoff.CaseAttachment, error) {
	var one int
	if err := s.rd.QueryRowContext(ctx, `SELECT 1 FROM cases WHERE tenant_id = ? AND id = ?`, tenantID, caseID).Scan(&one); err != nil {
		return nil, notFound(err, "case")
	}
	return queryAll(ctx, s.rd, func(row scanner) (handoff.CaseAttachment, error) {
		var a handoff.CaseAttachment
		var created int64
		err := row.Scan(&a.ID, &a.TenantID, &a.CaseID, &a.Key, &a.ContentType, &a.Filename, &a.Size, &a.AddedBy, &created)
		a.CreatedAt = fromMicros(created)
		return a, err
	}, `SELECT id, tenant_id, case_id, media_key, content_type, filename, size, added_by, created_at
		FROM case_attachments WHERE tenant_id = ? AND case_id = ? ORDER BY id`, tenantID, caseID)
}

package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"conversa/conversation"
	"conversa/handoff"
)

var _ handoff.CaseStore = (*Store)(nil)

const caseColumns = `id, tenant_id, radicado, type, status, contact_id, conversation_id, channel, subject, description,
	fields, priority, term_days, due, extended_days, extension_note, filed_at, updated_at, version, source`

func scanCase(row scanner) (handoff.Case, error) {
	var c handoff.Case
	var fields string
	var due, filed, updated int64
	err := row.Scan(&c.ID, &c.TenantID, &c.Radicado, &c.Type, &c.Status, &c.ContactID, &c.ConversationID, &c.Channel,
		&c.Subject, &c.Description, &fields, &c.Priority, &c.TermDays, &due, &c.ExtendedDays, &c.ExtensionNote,
		&filed, &updated, &c.Version, &c.Source)
	if err != nil {
		return c, err
	}
	c.Due, c.FiledAt, c.UpdatedAt = fromMicros(due), fromMicros(filed), fromMicros(updated)
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
			subject, description, fields, priority, term_days, due, extended_days, extension_note, filed_at, updated_at, version, source)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?) RETURNING id`,
			c.TenantID, radicado, c.Type, c.Status, c.ContactID, c.ConversationID, c.Channel,
			c.Subject, c.Description, fields, c.Priority, c.TermDays, micros(c.Due), c.ExtendedDays, c.ExtensionNote,
			micros(c.FiledAt), micros(c.FiledAt), c.Source).Scan(&id)
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
			updated_at = ?, version = version + 1
			WHERE tenant_id = ? AND id = ? AND version = ? RETURNING version`,
			c.Type, c.Status, c.ContactID, c.ConversationID, c.Channel,
			c.Subject, c.Description, fields, c.Priority, c.TermDays, micros(c.Due), c.ExtendedDays, c.ExtensionNote,
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
		where = append(where, "status NOT IN (?, ?) AND due < ?")
		args = append(args, string(handoff.Resuelto), string(handoff.Cerrado), f.OverdueAt.UnixMicro())
	}
	if f.Before != 0 {
		where, args = append(where, "id < ?"), append(args, f.Before)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultCaseLimit
	}
	limit = min(limit, maxCaseLimit)
	args = append(args, limit)
	cs, err := queryAll(ctx, s.rd, scanCase, `SELECT `+caseColumns+` FROM cases WHERE `+strings.Join(where, " AND ")+
		` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	return cs, nil
}

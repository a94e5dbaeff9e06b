package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"conversa/conversation"
	"conversa/handoff"
)

var _ handoff.CaseStore = (*Store)(nil)

const caseColumns = `id, tenant_id, radicado, type, status, contact_id, conversation_id, channel, subject, description,
	fields, priority, term_days, due, extended_days, extension_note, filed_at, updated_at, version, source,
	term_hours, assignee_id, team_id, paused_at, pause_reason, paused_units`

func scanCase(row pgx.Row) (handoff.Case, error) {
	var c handoff.Case
	var paused *time.Time
	err := row.Scan(&c.ID, &c.TenantID, &c.Radicado, &c.Type, &c.Status, &c.ContactID, &c.ConversationID, &c.Channel,
		&c.Subject, &c.Description, &c.Fields, &c.Priority, &c.TermDays, &c.Due, &c.ExtendedDays, &c.ExtensionNote,
		&c.FiledAt, &c.UpdatedAt, &c.Version, &c.Source,
		&c.TermHours, &c.AssigneeID, &c.TeamID, &paused, &c.PauseReason, &c.PausedUnits)
	if len(c.Fields) == 0 {
		c.Fields = nil
	}
	c.PausedAt = timeOf(paused)
	c.Due, c.FiledAt, c.UpdatedAt = c.Due.UTC(), c.FiledAt.UTC(), c.UpdatedAt.UTC()
	return c, err
}

func scanCaseEvent(row pgx.Row) (handoff.CaseEvent, error) {
	var ev handoff.CaseEvent
	err := row.Scan(&ev.ID, &ev.CaseID, &ev.Kind, &ev.Actor, &ev.From, &ev.To, &ev.Note, &ev.CreatedAt)
	ev.CreatedAt = ev.CreatedAt.UTC()
	return ev, err
}

// caseFields stores a case's fields as a jsonb object; none is {}.
func caseFields(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
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
func insertCaseEvent(ctx context.Context, tx pgx.Tx, tenantID, caseID int64, ev handoff.CaseEvent, at time.Time) error {
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = at
	}
	_, err := tx.Exec(ctx, `INSERT INTO case_events (tenant_id, case_id, kind, actor, from_status, to_status, note, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		tenantID, caseID, ev.Kind, ev.Actor, string(ev.From), string(ev.To), ev.Note, ev.CreatedAt.UTC().Truncate(time.Microsecond))
	return err
}

// CreateCase implements handoff.CaseStore. The upsert of the tenant's
// sequence row takes the next number and holds the row's lock until
// commit, so concurrent filings take consecutive numbers. A zero FiledAt
// is now; UpdatedAt is FiledAt; a first event without CreatedAt is at
// FiledAt.
func (s *Store) CreateCase(ctx context.Context, c *handoff.Case, prefix string, first handoff.CaseEvent) error {
	if c.FiledAt.IsZero() {
		c.FiledAt = now()
	}
	normalizeCase(c)
	year := c.FiledAt.UTC().Year()
	var id, seq int64
	var radicado string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO case_sequences (tenant_id, year, last) VALUES ($1, $2, 1)
			ON CONFLICT (tenant_id, year) DO UPDATE SET last = case_sequences.last + 1
			RETURNING last`, c.TenantID, year).Scan(&seq)
		if isForeignKey(err) {
			return conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
		}
		if err != nil {
			return err
		}
		radicado = handoff.FormatRadicado(prefix, year, seq)
		err = tx.QueryRow(ctx, `INSERT INTO cases (tenant_id, radicado, type, status, contact_id, conversation_id, channel,
			subject, description, fields, priority, term_days, due, extended_days, extension_note, filed_at, updated_at, version, source,
			term_hours, assignee_id, team_id, paused_at, pause_reason, paused_units)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16, 1, $17, $18, $19, $20, $21, $22, $23) RETURNING id`,
			c.TenantID, radicado, string(c.Type), string(c.Status), c.ContactID, c.ConversationID, c.Channel,
			c.Subject, c.Description, caseFields(c.Fields), c.Priority, c.TermDays, c.Due, c.ExtendedDays, c.ExtensionNote,
			c.FiledAt, c.Source, c.TermHours, c.AssigneeID, c.TeamID, nullTime(c.PausedAt), c.PauseReason, c.PausedUnits).Scan(&id)
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
		return fmt.Errorf("create case: %w", err)
	}
	c.ID, c.Radicado, c.Version, c.UpdatedAt = id, radicado, 1, c.FiledAt
	return nil
}

// Case implements handoff.CaseStore.
func (s *Store) Case(ctx context.Context, tenantID, id int64) (handoff.Case, error) {
	c, err := scanCase(s.pool.QueryRow(ctx, `SELECT `+caseColumns+` FROM cases WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return c, notFound(err, "case")
}

// CaseBySource implements handoff.CaseStore.
func (s *Store) CaseBySource(ctx context.Context, tenantID int64, source string) (handoff.Case, error) {
	if source == "" {
		return handoff.Case{}, conversation.Errorf(conversation.ENOTFOUND, "case not found")
	}
	c, err := scanCase(s.pool.QueryRow(ctx, `SELECT `+caseColumns+` FROM cases WHERE tenant_id = $1 AND source = $2`, tenantID, source))
	return c, notFound(err, "case")
}

// CaseByRadicado implements handoff.CaseStore.
func (s *Store) CaseByRadicado(ctx context.Context, tenantID int64, radicado string) (handoff.Case, error) {
	c, err := scanCase(s.pool.QueryRow(ctx, `SELECT `+caseColumns+` FROM cases WHERE tenant_id = $1 AND radicado = $2`,
		tenantID, radicado))
	return c, notFound(err, "case")
}

// UpdateCase implements handoff.CaseStore. It changes everything but the
// ID, tenant, filing number and FiledAt. The update holds the case row's
// lock: of two updates of one version, the second finds the new version
// and fails. An event without CreatedAt is at the new UpdatedAt.
func (s *Store) UpdateCase(ctx context.Context, c *handoff.Case, ev handoff.CaseEvent) error {
	normalizeCase(c)
	ts := now()
	var version int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `UPDATE cases SET type = $4, status = $5, contact_id = $6, conversation_id = $7, channel = $8,
			subject = $9, description = $10, fields = $11, priority = $12, term_days = $13, due = $14, extended_days = $15,
			extension_note = $16, updated_at = $17, version = version + 1,
			term_hours = $18, assignee_id = $19, team_id = $20, paused_at = $21, pause_reason = $22, paused_units = $23
			WHERE tenant_id = $1 AND id = $2 AND version = $3 RETURNING version`,
			c.TenantID, c.ID, c.Version, string(c.Type), string(c.Status), c.ContactID, c.ConversationID, c.Channel,
			c.Subject, c.Description, caseFields(c.Fields), c.Priority, c.TermDays, c.Due, c.ExtendedDays,
			c.ExtensionNote, ts, c.TermHours, c.AssigneeID, c.TeamID, nullTime(c.PausedAt), c.PauseReason, c.PausedUnits).Scan(&version)
		if errors.Is(err, pgx.ErrNoRows) {
			var one int
			if err := tx.QueryRow(ctx, `SELECT 1 FROM cases WHERE tenant_id = $1 AND id = $2`, c.TenantID, c.ID).Scan(&one); err != nil {
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
		return fmt.Errorf("update case: %w", err)
	}
	c.Version, c.UpdatedAt = version, ts
	return nil
}

// CaseHistory implements handoff.CaseStore. Returns ENOTFOUND when the
// case is not the tenant's.
func (s *Store) CaseHistory(ctx context.Context, tenantID, caseID int64) ([]handoff.CaseEvent, error) {
	evs, err := queryAll(ctx, s.pool, scanCaseEvent, `SELECT id, case_id, kind, actor, from_status, to_status, note, created_at
		FROM case_events WHERE case_id = $1 AND tenant_id = $2 ORDER BY id`, caseID, tenantID)
	if err != nil || len(evs) > 0 {
		return evs, err
	}
	// Every case has its first event: none means no such case.
	var one int
	err = s.pool.QueryRow(ctx, `SELECT 1 FROM cases WHERE tenant_id = $1 AND id = $2`, tenantID, caseID).Scan(&one)
	return nil, notFound(err, "case")
}

// Limits of a page of cases.
const (
	defaultCaseLimit = 50
	maxCaseLimit     = 500
)

// ListCases implements handoff.CaseStore.
func (s *Store) ListCases(ctx context.Context, tenantID int64, f handoff.CaseFilter) ([]handoff.Case, error) {
	where := []string{"tenant_id = $1"}
	args := []any{tenantID}
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	if len(f.Status) > 0 {
		statuses := make([]string, len(f.Status))
		for i, st := range f.Status {
			statuses[i] = string(st)
		}
		add("status = ANY($?)", statuses)
	}
	if len(f.Type) > 0 {
		types := make([]string, len(f.Type))
		for i, t := range f.Type {
			types[i] = string(t)
		}
		add("type = ANY($?)", types)
	}
	if f.Channel != "" {
		add("channel = $?", f.Channel)
	}
	if f.ContactID != 0 {
		add("contact_id = $?", f.ContactID)
	}
	if !f.FiledFrom.IsZero() {
		add("filed_at >= $?", f.FiledFrom)
	}
	if !f.FiledTo.IsZero() {
		add("filed_at < $?", f.FiledTo)
	}
	if !f.OverdueAt.IsZero() {
		add("status NOT IN ('resuelto', 'cerrado') AND due < $? AND paused_at IS NULL", f.OverdueAt)
	}
	if f.AssigneeID != 0 {
		add("assignee_id = $?", f.AssigneeID)
	}
	if f.TeamID != 0 {
		add("team_id = $?", f.TeamID)
	}
	if f.Paused {
		where = append(where, "paused_at IS NOT NULL")
	}
	// A date range walks the (tenant_id, filed_at, id) index from its end,
	// instead of the tenant's newer cases by ID (bench/README.md, cases).
	order := "id DESC"
	dated := !f.FiledFrom.IsZero() || !f.FiledTo.IsZero()
	if dated {
		order = "filed_at DESC, id DESC"
	}
	switch {
	case dated && !f.BeforeFiled.IsZero():
		args = append(args, f.BeforeFiled, cmp.Or(f.Before, math.MaxInt64))
		where = append(where, fmt.Sprintf("(filed_at, id) < ($%d, $%d)", len(args)-1, len(args)))
	case f.Before != 0:
		add("id < $?", f.Before)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultCaseLimit
	}
	args = append(args, min(limit, maxCaseLimit))
	cs, err := queryAll(ctx, s.pool, scanCase, `SELECT `+caseColumns+` FROM cases WHERE `+strings.Join(where, " AND ")+
		` ORDER BY `+order+` LIMIT $`+strconv.Itoa(len(args)), args...)
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
	a.CreatedAt = a.CreatedAt.UTC().Truncate(time.Microsecond)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The case's row lock orders its events, as UpdateCase's does.
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM cases WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, a.TenantID, a.CaseID).Scan(&one); err != nil {
			return notFound(err, "case")
		}
		err := tx.QueryRow(ctx, `INSERT INTO case_attachments (tenant_id, case_id, media_key, content_type, filename, size, added_by, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			a.TenantID, a.CaseID, a.Key, a.ContentType, a.Filename, a.Size, a.AddedBy, a.CreatedAt).Scan(&a.ID)
		if err != nil {
			return err
		}
		return insertCaseEvent(ctx, tx, a.TenantID, a.CaseID, ev, a.CreatedAt)
	})
	if err != nil {
		return fmt.Errorf("add case attachment: %w", err)
	}
	return nil
}

// CaseAttachments implements handoff.CaseStore.
func (s *Store) CaseAttachments(ctx context.Context, tenantID, caseID int64) ([]handoff.CaseAttachment, error) {
	var one int
	if err := s.pool.QueryRow(ctx, `SELECT 1 FROM cases WHERE tenant_id = $1 AND id = $2`, tenantID, caseID).Scan(&one); err != nil {
		return nil, notFound(err, "case")
	}
	return queryAll(ctx, s.pool, func(row pgx.Row) (handoff.CaseAttachment, error) {
		var a handoff.CaseAttachment
		err := row.Scan(&a.ID, &a.TenantID, &a.CaseID, &a.Key, &a.ContentType, &a.Filename, &a.Size, &a.AddedBy, &a.CreatedAt)
		a.CreatedAt = a.CreatedAt.UTC()
		return a, err
	}, `SELECT id, tenant_id, case_id, media_key, content_type, filename, size, added_by, created_at
		FROM case_attachments WHERE tenant_id = $1 AND case_id = $2 ORDER BY id`, tenantID, caseID)
}

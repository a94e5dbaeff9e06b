package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"conversa/conversation"
)

const jobColumns = `id, tenant_id, kind, ref, coalesce(key, ''), payload, state, run_at, attempt, max_attempts, leased_until, last_error, created_at`

func scanJob(row pgx.Row) (conversation.Job, error) {
	var j conversation.Job
	var leased *time.Time
	err := row.Scan(&j.ID, &j.TenantID, &j.Kind, &j.Ref, &j.Key, &j.Payload, &j.State, &j.RunAt, &j.Attempt, &j.MaxAttempts, &leased, &j.LastError, &j.CreatedAt)
	j.RunAt, j.LeasedUntil, j.CreatedAt = j.RunAt.UTC(), timeOf(leased), j.CreatedAt.UTC()
	return j, err
}

// EnqueueJob implements conversation.Store.
func (s *Store) EnqueueJob(ctx context.Context, j conversation.Job) (conversation.Job, error) {
	if j.MaxAttempts <= 0 {
		j.MaxAttempts = conversation.DeliverMaxAttempts
	}
	ts := now()
	if j.RunAt.IsZero() {
		j.RunAt = ts
	}
	for {
		created, err := scanJob(s.pool.QueryRow(ctx, `INSERT INTO jobs (tenant_id, kind, ref, key, payload, state, run_at, max_attempts, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $8)
			ON CONFLICT (tenant_id, key) WHERE key IS NOT NULL AND state <> 'failed' DO NOTHING
			RETURNING `+jobColumns,
			j.TenantID, j.Kind, j.Ref, nullString(j.Key), j.Payload, j.RunAt, j.MaxAttempts, ts))
		if !errors.Is(err, pgx.ErrNoRows) {
			return created, err
		}
		existing, err := scanJob(s.pool.QueryRow(ctx, `SELECT `+jobColumns+` FROM jobs WHERE tenant_id = $1 AND key = $2 AND state <> 'failed'`, j.TenantID, j.Key))
		if !errors.Is(err, pgx.ErrNoRows) {
			return existing, err
		}
		// The job with the key finished between the two statements: insert again.
	}
}

// ClaimJobs implements conversation.Store.
func (s *Store) ClaimJobs(ctx context.Context, kinds []string, limit int, lease time.Duration) ([]conversation.Job, error) {
	if len(kinds) == 0 || limit <= 0 {
		return nil, nil
	}
	ts := now()
	return queryAll(ctx, s.pool, scanJob, `UPDATE jobs SET state = 'running', attempt = attempt + 1, leased_until = $1, updated_at = $2
		WHERE id IN (
			SELECT id FROM jobs
			WHERE kind = ANY($3) AND ((state = 'pending' AND run_at <= $2) OR (state = 'running' AND leased_until <= $2))
			ORDER BY run_at, id LIMIT $4
			FOR UPDATE SKIP LOCKED)
		RETURNING `+jobColumns, ts.Add(lease), ts, kinds, limit)
}

// finishJob applies a change to a job only while the caller's lease holds.
func (s *Store) finishJob(ctx context.Context, j conversation.Job, sql string, args ...any) error {
	tag, err := s.pool.Exec(ctx, sql, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return conversation.Errorf(conversation.ECONFLICT, "job %d: lease lost", j.ID)
	}
	return nil
}

// CompleteJob implements conversation.Store.
func (s *Store) CompleteJob(ctx context.Context, j conversation.Job) error {
	return s.finishJob(ctx, j, `DELETE FROM jobs WHERE id = $1 AND state = 'running' AND attempt = $2`, j.ID, j.Attempt)
}

// RetryJob implements conversation.Store.
func (s *Store) RetryJob(ctx context.Context, j conversation.Job, runAt time.Time, reason string) error {
	return s.finishJob(ctx, j, `UPDATE jobs SET state = 'pending', run_at = $3, leased_until = NULL, last_error = $4, updated_at = $5
		WHERE id = $1 AND state = 'running' AND attempt = $2`, j.ID, j.Attempt, runAt, reason, now())
}

// FailJob implements conversation.Store.
func (s *Store) FailJob(ctx context.Context, j conversation.Job, reason string) error {
	return s.finishJob(ctx, j, `UPDATE jobs SET state = 'failed', leased_until = NULL, last_error = $3, updated_at = $4
		WHERE id = $1 AND state = 'running' AND attempt = $2`, j.ID, j.Attempt, reason, now())
}

// Job implements conversation.Store.
func (s *Store) Job(ctx context.Context, tenantID, id int64) (conversation.Job, error) {
	j, err := scanJob(s.pool.QueryRow(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = $1 AND tenant_id = $2`, id, tenantID))
	return j, notFound(err, "job")
}

// JobCounts implements conversation.Store.
func (s *Store) JobCounts(ctx context.Context) ([]conversation.JobCount, error) {
	return queryAll(ctx, s.pool, func(row pgx.Row) (conversation.JobCount, error) {
		var c conversation.JobCount
		return c, row.Scan(&c.Kind, &c.State, &c.Count)
	}, `SELECT kind, state, count(*) FROM jobs GROUP BY kind, state ORDER BY kind, state`)
}

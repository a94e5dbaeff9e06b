package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"conversa/conversation"
)

const jobColumns = `id, tenant_id, kind, ref, coalesce(key, ''), payload, state, run_at, attempt, max_attempts, leased_until, last_error, created_at`

func scanJob(row scanner) (conversation.Job, error) {
	var j conversation.Job
	var runAt, leased, created int64
	err := row.Scan(&j.ID, &j.TenantID, &j.Kind, &j.Ref, &j.Key, &j.Payload, &j.State, &runAt, &j.Attempt, &j.MaxAttempts, &leased, &j.LastError, &created)
	j.RunAt, j.LeasedUntil, j.CreatedAt = fromMicros(runAt), fromMicros(leased), fromMicros(created)
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
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		if j.Key != "" {
			j2, err := scanJob(tx.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE tenant_id = ? AND key = ? AND state <> 'failed'`, j.TenantID, j.Key))
			if err == nil {
				j = j2
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		j, err = scanJob(tx.QueryRowContext(ctx, `INSERT INTO jobs (tenant_id, kind, ref, key, payload, state, run_at, max_attempts, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?) RETURNING `+jobColumns,
			j.TenantID, j.Kind, j.Ref, nullString(j.Key), j.Payload, micros(j.RunAt), j.MaxAttempts, micros(ts), micros(ts)))
		return err
	})
	return j, err
}

// ClaimJobs implements conversation.Store.
func (s *Store) ClaimJobs(ctx context.Context, kinds []string, limit int, lease time.Duration) ([]conversation.Job, error) {
	if len(kinds) == 0 || limit <= 0 {
		return nil, nil
	}
	ts := now()
	args := []any{micros(ts.Add(lease)), micros(ts)}
	for _, k := range kinds {
		args = append(args, k)
	}
	args = append(args, micros(ts), micros(ts), limit)
	var jobs []conversation.Job
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		jobs, err = queryAll(ctx, tx, scanJob, `UPDATE jobs SET state = 'running', attempt = attempt + 1, leased_until = ?, updated_at = ?
			WHERE id IN (SELECT id FROM jobs WHERE kind IN (`+placeholders(len(kinds))+`)
				AND ((state = 'pending' AND run_at <= ?) OR (state = 'running' AND leased_until <= ?))
				ORDER BY run_at, id LIMIT ?)
			RETURNING `+jobColumns, args...)
		return err
	})
	return jobs, err
}

// finishJob applies a change to a job only while the caller's lease holds.
func (s *Store) finishJob(ctx context.Context, j conversation.Job, query string, args ...any) error {
	return s.write(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, query+` WHERE id = ? AND state = 'running' AND attempt = ?`, append(args, j.ID, j.Attempt)...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return conversation.Errorf(conversation.ECONFLICT, "job %d: lease lost", j.ID)
		}
		return nil
	})
}

// CompleteJob implements conversation.Store.
func (s *Store) CompleteJob(ctx context.Context, j conversation.Job) error {
	return s.finishJob(ctx, j, `DELETE FROM jobs`)
}

// RetryJob implements conversation.Store.
func (s *Store) RetryJob(ctx context.Context, j conversation.Job, runAt time.Time, reason string) error {
	return s.finishJob(ctx, j, `UPDATE jobs SET state = 'pending', run_at = ?, leased_until = 0, last_error = ?, updated_at = ?`,
		micros(runAt), reason, micros(now()))
}

// FailJob implements conversation.Store.
func (s *Store) FailJob(ctx context.Context, j conversation.Job, reason string) error {
	return s.finishJob(ctx, j, `UPDATE jobs SET state = 'failed', leased_until = 0, last_error = ?, updated_at = ?`, reason, micros(now()))
}

// Job implements conversation.Store.
func (s *Store) Job(ctx context.Context, tenantID, id int64) (conversation.Job, error) {
	j, err := scanJob(s.rd.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ? AND tenant_id = ?`, id, tenantID))
	return j, notFound(err, "job")
}

// JobCounts implements conversation.Store.
func (s *Store) JobCounts(ctx context.Context) ([]conversation.JobCount, error) {
	return queryAll(ctx, s.rd, func(row scanner) (conversation.JobCount, error) {
		var c conversation.JobCount
		return c, row.Scan(&c.Kind, &c.State, &c.Count)
	}, `SELECT kind, state, count(*) FROM jobs GROUP BY kind, state ORDER BY kind, state`)
}

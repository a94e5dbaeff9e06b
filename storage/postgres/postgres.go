// Package postgres is the production conversation.Store, on PostgreSQL 14 or
// later through pgx. Any number of nodes share one database: jobs are
// claimed with FOR UPDATE SKIP LOCKED, and ingest batches many messages into
// one pipelined transaction.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"conversa/conversation"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Config configures the store.
type Config struct {
	// URL is a PostgreSQL connection URL or keyword/value string. pgx pool
	// settings such as pool_max_conns may be part of it.
	URL string
	// Sealer encrypts the secret settings of channel accounts; nil stores
	// them as they are.
	Sealer *conversation.Sealer
}

// Validate checks the config.
func (c *Config) Validate() error {
	if _, err := pgxpool.ParseConfig(c.URL); err != nil {
		return conversation.FieldError("database_url", "not a PostgreSQL URL: %v", err)
	}
	return nil
}

// Store is the PostgreSQL conversation.Store.
type Store struct {
	pool   *pgxpool.Pool
	sealer *conversation.Sealer
}

var _ conversation.Store = (*Store)(nil)

// Open connects to the database. It does not migrate: call Migrate, or check
// Pending before serving.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return &Store{pool: pool, sealer: cfg.Sealer}, nil
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.pool.Ping(ctx)
}

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	var ms []migration
	for _, f := range files {
		v, err := strconv.Atoi(strings.SplitN(path.Base(f), "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: bad name", f)
		}
		body, err := migrations.ReadFile(f)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: path.Base(f), sql: string(body)})
	}
	return ms, nil
}

// Migrate applies the migrations the database lacks, each in its own
// transaction, holding an advisory lock so that nodes migrating at once
// take turns. It returns the names of the applied migrations.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	ms, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	if _, err := s.pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	var applied []string
	for _, m := range ms {
		done := false
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			// The lock is per schema, so test schemas migrate in parallel.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('conversa.migrate.' || current_schema()))`); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			done = true
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", m.name, err)
		}
		if done {
			applied = append(applied, m.name)
		}
	}
	return applied, nil
}

// Pending returns the names of the migrations the database lacks.
func (s *Store) Pending(ctx context.Context) ([]string, error) {
	ms, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	var have []int
	rows, err := s.pool.Query(ctx, `SELECT version FROM schema_migrations`)
	if err == nil {
		have, err = pgx.CollectRows(rows, pgx.RowTo[int])
	}
	if err != nil {
		if pgErrCode(err) != "42P01" { // undefined_table: nothing applied yet
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
	}
	var pending []string
	for _, m := range ms {
		if !slices.Contains(have, m.version) {
			pending = append(pending, m.name)
		}
	}
	return pending, nil
}

// InitSetting implements conversation.Store.
func (s *Store) InitSetting(ctx context.Context, name, value string) (string, error) {
	if _, err := s.pool.Exec(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, value); err != nil {
		return "", err
	}
	var stored string
	err := s.pool.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&stored)
	return stored, err
}

// Setting implements conversation.Store.
func (s *Store) Setting(ctx context.Context, name string) (string, error) {
	var v string
	err := s.pool.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v)
	return v, notFound(err, "setting")
}

// PutSetting implements conversation.Store.
func (s *Store) PutSetting(ctx context.Context, name, value string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
	return err
}

func pgErrCode(err error) string {
	if e, ok := errors.AsType[*pgconn.PgError](err); ok {
		return e.Code
	}
	return ""
}

func isUnique(err error) bool     { return pgErrCode(err) == "23505" }
func isForeignKey(err error) bool { return pgErrCode(err) == "23503" }

// notFound turns pgx.ErrNoRows into ENOTFOUND about what.
func notFound(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return conversation.Errorf(conversation.ENOTFOUND, "%s not found", what)
	}
	return err
}

// nullString stores "" as NULL, for columns whose uniqueness ignores NULLs.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// timeOf reads a nullable time, in UTC.
func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// now returns the current time at the stored precision.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, scan func(pgx.Row) (T, error), sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
}

// Package sqlite is the embedded conversation.Store: one file, pure Go (no
// cgo), in WAL mode with full fsync on commit. It is the zero-setup default
// and serves one node; several nodes share storage/postgres instead.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"conversa/conversation"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Config configures the store.
type Config struct {
	// Path is the database file.
	Path string
	// ReadConns is the size of the read connection pool.
	ReadConns int
}

// Validate fills in defaults and checks the config.
func (c *Config) Validate() error {
	if c.Path == "" {
		return conversation.FieldError("database_url", "the SQLite path is empty")
	}
	if c.ReadConns <= 0 {
		c.ReadConns = max(2, runtime.GOMAXPROCS(0))
	}
	return nil
}

// Store is the SQLite conversation.Store. Writes go through one connection,
// in IMMEDIATE transactions, so they never fail on lock upgrades; reads use a
// pool that WAL mode lets run beside the writer.
type Store struct {
	w *sql.DB // the one write connection
	r *sql.DB // read-only connections
}

var _ conversation.Store = (*Store)(nil)

// Open opens (creating if needed) the database file and applies the
// migrations the file lacks.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	path, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("sqlite path: %w", err)
	}
	pragmas := url.Values{"_pragma": {
		"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)",
	}}
	w, err := sql.Open("sqlite", "file:"+path+"?"+pragmas.Encode()+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	pragmas["_pragma"] = append(pragmas["_pragma"], "query_only(1)")
	r, err := sql.Open("sqlite", "file:"+path+"?"+pragmas.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	r.SetMaxOpenConns(cfg.ReadConns)
	r.SetMaxIdleConns(cfg.ReadConns)
	s.r = r
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// migrate applies, each in its own transaction, the embedded migrations
// newer than the database's user_version.
func (s *Store) migrate(ctx context.Context) error {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	slices.Sort(files)
	for _, f := range files {
		version, err := strconv.Atoi(strings.SplitN(filepath.Base(f), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: bad name", f)
		}
		body, err := migrations.ReadFile(f)
		if err != nil {
			return err
		}
		err = s.write(ctx, func(tx *sql.Tx) error {
			var current int
			if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
				return err
			}
			if current >= version {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(version))
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", f, err)
		}
	}
	return nil
}

// write runs fn in a write transaction and commits it.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// InitSetting stores value under name unless one is stored, and returns the
// stored value.
func (s *Store) InitSetting(ctx context.Context, name, value string) (string, error) {
	var stored string
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, value); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&stored)
	})
	return stored, err
}

// micros converts a time to the stored Unix microseconds; the zero time is 0.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromMicros converts stored Unix microseconds back; 0 is the zero time.
func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// now returns the current time at the stored precision.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// isUnique reports whether err is a violated UNIQUE or PRIMARY KEY
// constraint.
func isUnique(err error) bool {
	e, ok := errors.AsType[*sqlite.Error](err)
	return ok && (e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// isForeignKey reports whether err is a violated FOREIGN KEY constraint.
func isForeignKey(err error) bool {
	e, ok := errors.AsType[*sqlite.Error](err)
	return ok && e.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// notFound turns sql.ErrNoRows into ENOTFOUND about what.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return conversation.Errorf(conversation.ENOTFOUND, "%s not found", what)
	}
	return err
}

// nullString stores "" as NULL, for columns whose uniqueness ignores NULLs.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// placeholders returns "?, ?, ?" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

type scanner interface{ Scan(dest ...any) error }

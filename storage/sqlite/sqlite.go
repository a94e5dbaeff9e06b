// Package sqlite is the embedded conversation.Store: one file, pure Go (no
// cgo), in WAL mode with full fsync on commit. It is the zero-setup default
// and serves one node; several nodes share storage/postgres instead.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	// Sealer encrypts the secret settings of channel accounts; nil stores
	// them as they are.
	Sealer *conversation.Sealer
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
	w   *sql.DB    // the pool of the one write connection
	wc  *sql.Conn  // the write connection itself
	wmu sync.Mutex // one write transaction at a time
	ws  *stmts     // prepared statements of wc
	r   *sql.DB    // read-only connections
	rd  *reads     // r, with prepared statements

	sealer *conversation.Sealer
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
	w, err := sql.Open("sqlite", "file:"+path+"?"+pragmas.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	wc, err := w.Conn(ctx)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	s := &Store{w: w, wc: wc, ws: newStmts(wc.PrepareContext), sealer: cfg.Sealer}
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
	s.r, s.rd = r, &reads{stmts: newStmts(r.PrepareContext), db: r}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	var errs []error
	if s.rd != nil {
		errs = append(errs, s.rd.close(), s.r.Close())
	}
	return errors.Join(append(errs, s.ws.close(), s.wc.Close(), s.w.Close())...)
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.rd.QueryRowContext(ctx, "SELECT 1").Scan(&one)
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
		err = s.write(ctx, func(tx *wtx) error {
			var current int
			if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
				return err
			}
			if current >= version {
				return nil
			}
			if err := tx.script(ctx, string(body)); err != nil {
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

// write runs fn in a write transaction and commits it. The transaction
// is IMMEDIATE: it takes the write lock at once, so that it never fails to
// upgrade a read lock when another process writes the same file.
func (s *Store) write(ctx context.Context, fn func(tx *wtx) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx := &wtx{conn: s.wc, stmts: s.ws}
	if _, err := tx.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.rollback()
		return err
	}
	if _, err := tx.ExecContext(ctx, "COMMIT"); err != nil {
		tx.rollback()
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// InitSetting stores value under name unless one is stored, and returns the
// stored value.
func (s *Store) InitSetting(ctx context.Context, name, value string) (string, error) {
	var stored string
	err := s.write(ctx, func(tx *wtx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, value); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&stored)
	})
	return stored, err
}

// Setting implements conversation.Store.
func (s *Store) Setting(ctx context.Context, name string) (string, error) {
	var v string
	err := s.r.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v)
	return v, notFound(err, "setting")
}

// PutSetting implements conversation.Store.
func (s *Store) PutSetting(ctx context.Context, name, value string) error {
	return s.write(ctx, func(tx *wtx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
		return err
	})
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

// inJSON is the operand of an IN whose values come as one argument, a JSON
// array (jsonArray): the statement's text stays the same however many
// values there are, so lists of every length (a batch of 1 to 1,000) share
// one prepared statement instead of filling the cache with one a length.
const inJSON = `(SELECT value FROM json_each(?))`

// jsonArray is the argument of an inJSON.
func jsonArray[T int64 | string](vs []T) string {
	b, err := json.Marshal(vs)
	if err != nil {
		panic(err) // int64s and strings always encode
	}
	return string(b)
}

type scanner interface{ Scan(dest ...any) error }

// SQLite compiles a statement each time it is run unless it is prepared;
// compiling was a quarter of the server's work. The store keeps its
// statements prepared, per pool, by their text.

// stmts caches prepared statements by their text. Queries whose text
// varies with their arguments (IN lists) would fill it: past maxStmts it
// stops caching.
type stmts struct {
	prepare func(ctx context.Context, query string) (*sql.Stmt, error)
	mu      sync.Mutex
	m       map[string]*sql.Stmt
}

const maxStmts = 256

func newStmts(prepare func(context.Context, string) (*sql.Stmt, error)) *stmts {
	return &stmts{prepare: prepare, m: map[string]*sql.Stmt{}}
}

// get returns the prepared statement of query, or nil when it cannot be
// cached. query must be one statement.
func (c *stmts) get(ctx context.Context, query string) *sql.Stmt {
	c.mu.Lock()
	st, ok := c.m[query]
	full := len(c.m) >= maxStmts
	c.mu.Unlock()
	if ok || full {
		return st
	}
	st, err := c.prepare(ctx, query)
	if err != nil {
		return nil // the caller runs it unprepared and gets the error
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[query]; ok {
		st.Close()
		return old
	}
	c.m[query] = st
	return st
}

func (c *stmts) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, st := range c.m {
		errs = append(errs, st.Close())
	}
	clear(c.m)
	return errors.Join(errs...)
}

// wtx runs statements, prepared, in the write transaction that Store.write
// opened on the write connection.
type wtx struct {
	conn  *sql.Conn
	stmts *stmts
}

func (t *wtx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmts.get(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.conn.ExecContext(ctx, query, args...)
}

func (t *wtx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmts.get(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.conn.QueryContext(ctx, query, args...)
}

func (t *wtx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.stmts.get(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.conn.QueryRowContext(ctx, query, args...)
}

// script runs several statements, unprepared: preparing compiles only the
// first.
func (t *wtx) script(ctx context.Context, sql string) error {
	_, err := t.conn.ExecContext(ctx, sql)
	return err
}

// rollback ends a failed transaction, even when the failure was its
// context's end.
func (t *wtx) rollback() {
	t.conn.ExecContext(context.Background(), "ROLLBACK")
}

// reads is the read pool, running statements prepared.
type reads struct {
	*stmts
	db *sql.DB
}

func (r *reads) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := r.get(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return r.db.QueryContext(ctx, query, args...)
}

func (r *reads) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := r.get(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return r.db.QueryRowContext(ctx, query, args...)
}

package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"

	"conversa/storage/postgres"
)

// TempDB is a PostgreSQL database made for one benchmark run. Drop removes
// it.
type TempDB struct {
	// Name is the database's name, bench_ and random hex digits.
	Name string
	// URL connects to it: the server's URL with the database replaced.
	URL string

	admin string
}

// CreateTempDB creates a new, empty database on the server of adminURL,
// which must name an existing database to connect to (such as postgres).
func CreateTempDB(ctx context.Context, adminURL string) (*TempDB, error) {
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("not a postgres:// URL: %q", adminURL)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "bench_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u.Path = "/" + name
	u.RawPath = ""
	return &TempDB{Name: name, URL: u.String(), admin: adminURL}, nil
}

// Drop deletes the database, ending any session still connected to it. It
// works even when ctx has ended.
func (db *TempDB) Drop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.admin)
	if err != nil {
		return fmt.Errorf("drop database %s: %w", db.Name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db.Name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", db.Name, err)
	}
	return nil
}

// OpenStore opens the database as the product's PostgreSQL store, migrated.
// The caller closes it before Drop.
func (db *TempDB) OpenStore(ctx context.Context) (*postgres.Store, error) {
	store, err := postgres.Open(ctx, postgres.Config{URL: db.URL})
	if err != nil {
		return nil, err
	}
	if _, err := store.Migrate(ctx); err != nil {
		store.Close()
		return nil, err
	}
	return store, nil
}

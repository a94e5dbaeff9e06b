package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// baselineSchema is the baseline's table: the fields of an inbound message,
// with the uniqueness of (channel, provider id) that de-duplication needs.
const baselineSchema = `
CREATE TABLE baseline_messages (
	id          bigserial PRIMARY KEY,
	channel_id  bigint NOT NULL,
	sender      text NOT NULL,
	provider_id text NOT NULL,
	body        text NOT NULL,
	created_at  timestamptz NOT NULL DEFAULT now(),
	UNIQUE (channel_id, provider_id)
)`

// baseline is the reference ingest handler: it decodes the JSON body of
// POST /api/v1/inbound and stores the message with one plain INSERT,
// autocommit, at the server's default durability. It answers 201.
type baseline struct {
	pool *pgxpool.Pool
	srv  *http.Server
	url  string
}

// startBaseline creates the baseline's table in the database at dbURL and
// serves the handler on a loopback port, with a pool of poolSize
// connections.
func startBaseline(ctx context.Context, dbURL string, poolSize int) (*baseline, error) {
	pc, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, err
	}
	pc.MaxConns = int32(poolSize)
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, err
	}
	if _, err := pool.Exec(ctx, baselineSchema); err != nil {
		pool.Close()
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		pool.Close()
		return nil, err
	}
	b := &baseline{pool: pool, url: "http://" + l.Addr().String() + "/api/v1/inbound"}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/inbound", b.inbound)
	b.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go b.srv.Serve(l) // returns ErrServerClosed after close
	return b, nil
}

// inboundBody is the part of the inbound body the baseline stores.
type inboundBody struct {
	ChannelID int64  `json:"channel_id"`
	From      string `json:"from"`
	ID        string `json:"id"`
	Text      string `json:"text"`
}

func (b *baseline) inbound(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 256<<10))
	if err != nil {
		http.Error(w, `{"error":"unreadable body"}`, http.StatusBadRequest)
		return
	}
	var in inboundBody
	if err := json.Unmarshal(data, &in); err != nil || in.ChannelID <= 0 || in.From == "" || in.ID == "" || in.Text == "" {
		http.Error(w, `{"error":"invalid body"}`, http.StatusBadRequest)
		return
	}
	var id int64
	err = b.pool.QueryRow(r.Context(),
		`INSERT INTO baseline_messages (channel_id, sender, provider_id, body) VALUES ($1, $2, $3, $4) RETURNING id`,
		in.ChannelID, in.From, in.ID, in.Text).Scan(&id)
	if err != nil {
		http.Error(w, `{"error":"insert failed"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	w.Write(strconv.AppendInt([]byte(`{"id":`), id, 10))
	w.Write([]byte("}\n"))
}

// close stops serving and closes the pool.
func (b *baseline) close(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := b.srv.Shutdown(ctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	b.pool.Close()
	return err
}

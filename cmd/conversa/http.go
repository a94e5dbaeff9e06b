package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes returns the server's handler: every channel's, the API's, health
// and metrics, behind request ids, access logs, panic recovery and request
// metrics.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{Registry: s.registry}))
	mux.HandleFunc("GET /{$}", s.index)
	s.api.Routes(mux)
	s.console.Routes(mux)
	s.channels.Routes(mux)
	s.media.Routes(mux)
	return s.middleware(mux)
}

// ready reports whether the store and the shared state answer.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"store": "ok", "shared_state": "ok"}
	status := http.StatusOK
	if err := s.store.Ping(ctx); err != nil {
		checks["store"], status = err.Error(), http.StatusServiceUnavailable
	}
	if err := s.shared.Ping(ctx); err != nil {
		checks["shared_state"], status = err.Error(), http.StatusServiceUnavailable
	}
	if status != http.StatusOK {
		s.logger.WarnContext(r.Context(), "not ready", "checks", checks)
	}
	writeJSON(w, status, checks)
}

var indexPage = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Conversa</title>
<style>body{font-family:system-ui,sans-serif;max-width:640px;margin:48px auto;padding:0 16px;color:#1d2433}code{background:#eef1f5;padding:2px 6px;border-radius:4px}</style>
</head><body>
<h1>Conversa</h1>
<p>The omnichannel messaging gateway and chatbot runtime is running.</p>
<ul>
{{range .Demos}}<li><a href="/webchat/demo?channel={{.}}">Web-chat demo ({{.}})</a></li>{{end}}
<li><a href="/console/">Agent console</a></li>
<li><a href="/api/openapi.json">REST API description</a> (<code>/api/v1/</code>)</li>
<li><a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a>, <a href="/metrics">/metrics</a></li>
</ul>
</body></html>`))

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	var demos []string
	if _, err := s.svc.Account(r.Context(), "webchat", demoChannel); err == nil {
		demos = append(demos, demoChannel)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	indexPage.Execute(w, map[string]any{"Demos": demos})
}

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// statusRecorder remembers the status and size of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController and the WebSocket upgrade reach the
// connection.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// middleware gives every request an id (the client's X-Request-ID when it
// is sane), reads its client's address through the trusted proxies, logs
// it, recovers from panics, and measures it by route.
func (s *Server) middleware(next http.Handler) http.Handler {
	// Validate has checked the setting.
	proxies, _ := parseTrustedProxies(s.cfg.TrustedProxies)
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "conversa_http_requests_total",
		Help: "HTTP requests by route pattern and status.",
	}, []string{"route", "status"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "conversa_http_request_duration_seconds",
		Help:    "HTTP request latency by route pattern.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route"})
	s.registry.MustRegister(requests, latency)

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		peer := proxies.withClientAddr(r)
		id := r.Header.Get("X-Request-ID")
		if !requestIDRE.MatchString(id) {
			b := make([]byte, 8)
			rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-ID", id)
		r = r.WithContext(withRequestID(r.Context(), id))
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.logger.ErrorContext(r.Context(), "handler panicked", "panic", p, "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeJSON(rec, http.StatusInternalServerError, map[string]any{"error": map[string]string{"code": "internal", "message": "internal error"}})
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			d := time.Since(start)
			requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
			latency.WithLabelValues(route).Observe(d.Seconds())
			if level := accessLevel(status); s.logger.Enabled(r.Context(), level) {
				s.logger.LogAttrs(r.Context(), level, "request", slogAttrs(r, peer, status, rec.bytes, d)...)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

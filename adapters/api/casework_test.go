package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"conversa/adapters/api"
	"conversa/channels"
	"conversa/conversation"
	"conversa/handoff"
	"conversa/storage/media"
	"conversa/storage/memory"
	"conversa/storage/sqlite"
)

// uploadLimit is the attachment limit of the work env: small, so that
// over-limit uploads are cheap.
const uploadLimit = 4096

// newWorkEnv is newCaseEnv with the agents, the media store and its signed
// links.
func newWorkEnv(t testing.TB) (*env, *clock, *media.Dir) {
	t.Helper()
	store, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "conversa.db")})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	files, err := media.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	shared := memory.New()
	svc, err := conversation.NewService(conversation.ServiceConfig{}, conversation.Deps{Store: store, Bus: shared, Dedup: shared})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: caseBase}
	links := &channels.MediaLinks{Secret: []byte("0123456789abcdef0123456789abcdef"), Store: files}
	cases := handoff.NewCases(store, handoff.CasesConfig{Now: clk.Now, Tenants: store, Agents: store, Media: files, MaxAttachment: uploadLimit})
	a, err := api.New(api.Config{MaxBodyBytes: bodyLimit, RequestsPerMinute: 1 << 30, Cases: cases, CaseStore: store, Media: links, MaxUploadBytes: uploadLimit}, svc, store, shared, shared)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Routes(mux)
	links.Routes(mux)
	srv := httptest.NewServer(mux)
	links.BaseURL = srv.URL
	ctx, cancel := context.WithCancel(context.Background())
	e := &env{store: store, shared: shared, svc: svc, api: a, srv: srv, stopAPI: cancel, runDone: make(chan error, 1)}
	go func() { e.runDone <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		srv.Close()
	})
	return e, clk, files
}

// multipartBody returns a multipart/form-data body with a file part named
// field, and its Content-Type.
func multipartBody(t *testing.T, field, filename string, content []byte) (rawBody, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.WriteField("comment", "adjunto"); err != nil {
		t.Fatal(err)
	}
	w, err := mw.CreateFormFile(field, filename)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(content)
	mw.Close()
	return rawBody(buf.Bytes()), mw.FormDataContentType()
}

type attachmentsBody struct {
	Data     []map[string]any `json:"data"`
	Messages []map[string]any `json:"messages"`
}

var pngHeader = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01")

func TestCaseWork(t *testing.T) {
	t.Parallel()
	e, clk, files := newWorkEnv(t)
	tn := e.newTenant(t, "acme", "")
	other := e.newTenant(t, "globex", "")
	k := tn.key
	conv := e.ingest(t, tn, "ana", "m-1", "hola").Conversation
	theirConv := e.ingest(t, other, "eve", "m-2", "hola").Conversation
	c := fileCase(t, e, clk, caseBase, k, map[string]any{"type": "queja", "contact_id": conv.ContactID, "conversation_id": conv.ID, "description": "Llegó roto"})
	theirs := fileCase(t, e, clk, caseBase, other.key, map[string]any{"type": "queja", "contact_id": theirConv.ContactID, "description": "De otro"})
	team, err := e.store.CreateTeam(t.Context(), handoff.Team{TenantID: tn.ID, Name: "Pedidos"})
	if err != nil {
		t.Fatal(err)
	}
	agent, err := e.store.CreateAgent(t.Context(), handoff.Agent{TenantID: tn.ID, Name: "Ana", Role: handoff.RoleAgent, Capacity: 1, Teams: []int64{team.ID}})
	if err != nil {
		t.Fatal(err)
	}
	theirAgent, err := e.store.CreateAgent(t.Context(), handoff.Agent{TenantID: other.ID, Name: "Eva", Role: handoff.RoleAgent, Capacity: 1})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("assign", func(t *testing.T) {
		got := decode[handoff.Case](t, e.do(t, "POST", casePath(c.ID, "/assign"), k, map[string]any{"agent_id": agent.ID, "team_id": team.ID}), 200)
		if got.AssigneeID != agent.ID || got.TeamID != team.ID {
			t.Fatalf("assigned %+v", got)
		}
		wantError(t, e.do(t, "POST", casePath(c.ID, "/assign"), k, map[string]any{"agent_id": theirAgent.ID}), 400, "invalid", "agent_id")
		wantError(t, e.do(t, "POST", casePath(c.ID, "/assign"), k, map[string]any{"agent": 1}), 400, "invalid", "agent")
		wantError(t, e.do(t, "POST", casePath(theirs.ID, "/assign"), k, map[string]any{"agent_id": agent.ID}), 404, "not_found", "")
		list := decode[page[handoff.Case]](t, e.do(t, "GET", fmt.Sprintf("/api/v1/cases?assignee_id=%d&team_id=%d", agent.ID, team.ID), k, nil), 200).Data
		if len(list) != 1 || list[0].ID != c.ID {
			t.Fatalf("Ana's cases %+v", list)
		}
		wantError(t, e.do(t, "GET", "/api/v1/cases?assignee_id=ana", k, nil), 400, "invalid", "assignee_id")
	})

	t.Run("notes", func(t *testing.T) {
		ev := decode[handoff.CaseEvent](t, e.do(t, "POST", casePath(c.ID, "/notes"), k, map[string]any{"body": "Llamar <mañana>", "author": "Ana"}), 201)
		if ev.Kind != "internal_note" || ev.Note != "Llamar <mañana>" || ev.Actor != "api:"+tn.keyID+" for Ana" {
			t.Fatalf("note %+v", ev)
		}
		notes := decode[page[handoff.CaseEvent]](t, e.do(t, "GET", casePath(c.ID, "/notes"), k, nil), 200).Data
		if len(notes) != 1 || notes[0].Note != ev.Note {
			t.Fatalf("notes %+v", notes)
		}
		wantError(t, e.do(t, "POST", casePath(c.ID, "/notes"), k, map[string]any{"body": " "}), 400, "invalid", "body")
		wantError(t, e.do(t, "POST", casePath(c.ID, "/notes"), k, map[string]any{"body": "x", "author": "a\nb"}), 400, "invalid", "author")
		wantError(t, e.do(t, "POST", casePath(theirs.ID, "/notes"), k, map[string]any{"body": "x"}), 404, "not_found", "")
		wantError(t, e.do(t, "GET", casePath(theirs.ID, "/notes"), k, nil), 404, "not_found", "")
	})

	t.Run("pause and resume", func(t *testing.T) {
		clk.set(caseBase.Add(2 * time.Hour))
		got := decode[handoff.Case](t, e.do(t, "POST", casePath(c.ID, "/pause"), k, map[string]any{"reason": "Falta la factura"}), 200)
		if got.PausedAt.IsZero() || got.PauseReason != "Falta la factura" {
			t.Fatalf("paused %+v", got)
		}
		wantError(t, e.do(t, "POST", casePath(c.ID, "/pause"), k, map[string]any{"reason": "otra"}), 409, "conflict", "")
		wantError(t, e.do(t, "POST", casePath(c.ID, "/pause"), k, map[string]any{}), 400, "invalid", "reason")
		paused := decode[page[handoff.Case]](t, e.do(t, "GET", "/api/v1/cases?paused=true", k, nil), 200).Data
		if len(paused) != 1 || paused[0].ID != c.ID {
			t.Fatalf("paused cases %+v", paused)
		}
		// Monday to Friday of the same week: four business days.
		clk.set(caseBase.AddDate(0, 0, 4))
		got = decode[handoff.Case](t, e.do(t, "POST", casePath(c.ID, "/resume"), k, nil), 200)
		if !got.PausedAt.IsZero() || got.PausedUnits != 4 || !got.Due.Equal(c.Due.AddDate(0, 0, 6)) {
			t.Fatalf("resumed %+v; due before %v", got, c.Due)
		}
		wantError(t, e.do(t, "POST", casePath(c.ID, "/resume"), k, nil), 409, "conflict", "")
		wantError(t, e.do(t, "POST", casePath(theirs.ID, "/resume"), k, nil), 404, "not_found", "")
	})

	t.Run("attachments", func(t *testing.T) {
		body, ctype := multipartBody(t, "file", `..\..\etc/"pass<wd>".png`, pngHeader)
		att := decode[map[string]any](t, e.do(t, "POST", casePath(c.ID, "/attachments"), k, body, "Content-Type", ctype), 201)
		if att["content_type"] != "image/png" || att["filename"] != "passwd.png" || att["size"] != float64(len(pngHeader)) || !strings.HasPrefix(att["url"].(string), e.srv.URL+channels.MediaPath) {
			t.Fatalf("attachment %+v", att)
		}
		// The customer's photo in the case's conversation is listed too.
		photo, err := files.Put(t.Context(), tn.ID, conversation.Media{ContentType: "image/jpeg", Filename: "recibo.jpg"}, strings.NewReader("jpeg"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Ingest(t.Context(), conversation.Inbound{Channel: conversation.ChannelAPI, Account: tn.api.Key, From: "ana", ProviderID: "m-3",
			Parts: []conversation.Part{{Type: conversation.PartMedia, Media: &photo}}}); err != nil {
			t.Fatal(err)
		}
		list := decode[attachmentsBody](t, e.do(t, "GET", casePath(c.ID, "/attachments"), k, nil), 200)
		if len(list.Data) != 1 || len(list.Messages) != 1 || list.Messages[0]["filename"] != "recibo.jpg" {
			t.Fatalf("attachments %+v", list)
		}
		for url, want := range map[string]string{list.Data[0]["url"].(string): string(pngHeader), list.Messages[0]["url"].(string): "jpeg"} {
			resp, err := http.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(b) != want || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("the link served %d %q", resp.StatusCode, b)
			}
		}
		hist := decode[page[handoff.CaseEvent]](t, e.do(t, "GET", casePath(c.ID, "/history"), k, nil), 200).Data
		if last := hist[len(hist)-1]; last.Kind != "attachment" || !strings.Contains(last.Note, "passwd.png (image/png") {
			t.Fatalf("last event %+v", last)
		}

		// Refused uploads store nothing.
		big, bigType := multipartBody(t, "file", "big.bin", bytes.Repeat([]byte("a"), uploadLimit+1))
		huge, hugeType := multipartBody(t, "file", "huge.bin", bytes.Repeat([]byte("a"), uploadLimit+100<<10))
		noFile, noFileType := multipartBody(t, "other", "x.txt", []byte("hola"))
		empty, emptyType := multipartBody(t, "file", "vacío.txt", nil)
		for _, tc := range []struct {
			name        string
			id          int64
			body        rawBody
			ctype       string
			status      int
			code, field string
		}{
			{"over the limit", c.ID, big, bigType, 413, "too_large", "file"},
			{"far over the limit", c.ID, huge, hugeType, 413, "too_large", "file"},
			{"no file part", c.ID, noFile, noFileType, 400, "invalid", "file"},
			{"an empty file", c.ID, empty, emptyType, 400, "invalid", "file"},
			{"not multipart", c.ID, rawBody(`{"file":"x"}`), "application/json", 400, "invalid", ""},
			{"a broken body", c.ID, rawBody("--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc"), "multipart/form-data; boundary=x", 400, "invalid", "file"},
			{"another tenant's case", theirs.ID, body, ctype, 404, "not_found", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, e.do(t, "POST", casePath(tc.id, "/attachments"), k, tc.body, "Content-Type", tc.ctype), tc.status, tc.code, tc.field)
			})
		}
		if got := decode[attachmentsBody](t, e.do(t, "GET", casePath(c.ID, "/attachments"), k, nil), 200); len(got.Data) != 1 {
			t.Fatalf("refused uploads were attached: %+v", got.Data)
		}
		wantError(t, e.do(t, "GET", casePath(theirs.ID, "/attachments"), k, nil), 404, "not_found", "")
	})
}

// TestCaseDateRangePages: a list of a date range pages in the order of
// filing, with a cursor of both the time and the id.
func TestCaseDateRangePages(t *testing.T) {
	t.Parallel()
	e, clk := newCaseEnv(t, true)
	tn := e.newTenant(t, "acme", "")
	conv := e.ingest(t, tn, "ana", "m-1", "hola").Conversation
	var want []int64
	for _, d := range []int{3, 1, 4, 2, 0} { // filed out of id order
		c := fileCase(t, e, clk, caseBase.AddDate(0, 0, d), tn.key, map[string]any{"type": "queja", "contact_id": conv.ContactID, "description": "x"})
		want = append(want, c.ID)
	}
	// Newest filing first: days 4, 3, 2, 1 (day 0 is outside the range).
	want = []int64{want[2], want[0], want[3], want[1]}
	var got []int64
	path := "/api/v1/cases?limit=1&filed_from=2020-03-10&filed_to=2020-03-13"
	for range 10 {
		p := decode[page[handoff.Case]](t, e.do(t, "GET", path, tn.key, nil), 200)
		for _, c := range p.Data {
			got = append(got, c.ID)
		}
		if p.NextCursor == "" {
			break
		}
		raw, _ := base64.RawURLEncoding.DecodeString(p.NextCursor)
		var cur map[string]any
		if err := json.Unmarshal(raw, &cur); err != nil || cur["before_filed"] == nil {
			t.Fatalf("cursor of a date range %s", raw)
		}
		path = "/api/v1/cases?limit=1&filed_from=2020-03-10&filed_to=2020-03-13&cursor=" + p.NextCursor
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pages %v, want %v", got, want)
	}
}

// TestCaseWorkOpenAPI checks the work routes' real answers against the
// description.
func TestCaseWorkOpenAPI(t *testing.T) {
	t.Parallel()
	e, clk, _ := newWorkEnv(t)
	_, router := loadSpec(t, e)
	tn := e.newTenant(t, "acme", "")
	k := tn.key
	conv := e.ingest(t, tn, "ana", "m-1", "hola").Conversation
	c := fileCase(t, e, clk, caseBase, k, map[string]any{"type": "queja", "contact_id": conv.ContactID, "conversation_id": conv.ID, "description": "x"})
	team, err := e.store.CreateTeam(t.Context(), handoff.Team{TenantID: tn.ID, Name: "Pedidos"})
	if err != nil {
		t.Fatal(err)
	}
	file, ctype := multipartBody(t, "file", "foto.png", pngHeader)
	big, bigType := multipartBody(t, "file", "big.bin", bytes.Repeat([]byte("a"), uploadLimit+1))
	for _, x := range []exchange{
		{name: "assign", method: "POST", path: casePath(c.ID, "/assign"), key: k, status: 200, validRequest: true, body: map[string]any{"team_id": team.ID}},
		{name: "assign bad", method: "POST", path: casePath(c.ID, "/assign"), key: k, status: 400, validRequest: true, body: map[string]any{"team_id": team.ID + 9}},
		{name: "note", method: "POST", path: casePath(c.ID, "/notes"), key: k, status: 201, validRequest: true, body: map[string]any{"body": "hola"}},
		{name: "notes", method: "GET", path: casePath(c.ID, "/notes"), key: k, status: 200, validRequest: true},
		{name: "notes missing", method: "GET", path: casePath(c.ID+9, "/notes"), key: k, status: 404, validRequest: true},
		{name: "pause", method: "POST", path: casePath(c.ID, "/pause"), key: k, status: 200, validRequest: true, body: map[string]any{"reason": "Falta la factura"}},
		{name: "pause again", method: "POST", path: casePath(c.ID, "/pause"), key: k, status: 409, validRequest: true, body: map[string]any{"reason": "otra"}},
		{name: "list paused", method: "GET", path: "/api/v1/cases?paused=true&assignee_id=0&team_id=" + fmt.Sprint(team.ID), key: k, status: 200, validRequest: true},
		{name: "resume", method: "POST", path: casePath(c.ID, "/resume"), key: k, status: 200, validRequest: true},
		{name: "resume again", method: "POST", path: casePath(c.ID, "/resume"), key: k, status: 409, validRequest: true},
		{name: "attachments", method: "GET", path: casePath(c.ID, "/attachments"), key: k, status: 200, validRequest: true},
	} {
		t.Run(x.name, func(t *testing.T) {
			if x.env == nil {
				x.env = e
			}
			checkExchange(t, router, x)
		})
	}
	// Uploads are multipart, which checkExchange does not send.
	for _, up := range []struct {
		name   string
		body   rawBody
		ctype  string
		status int
	}{{"attach", file, ctype, 201}, {"attach too large", big, bigType, 413}} {
		t.Run(up.name, func(t *testing.T) {
			r := e.do(t, "POST", casePath(c.ID, "/attachments"), k, up.body, "Content-Type", up.ctype)
			if r.status != up.status {
				t.Fatalf("status %d, want %d: %s", r.status, up.status, r.body)
			}
			req, err := http.NewRequestWithContext(t.Context(), "POST", e.srv.URL+casePath(c.ID, "/attachments"), nil)
			if err != nil {
				t.Fatal(err)
			}
			validateResponse(t, router, req, r.status, r.header, r.body, false)
		})
	}
}

// FuzzCaseUpload: whatever multipart body a client sends, an upload is
// attached (201) or refused with a 4xx and an error, never a 5xx, and a
// refused upload attaches nothing.
func FuzzCaseUpload(f *testing.F) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, _ := mw.CreateFormFile("file", "foto.png")
	w.Write(pngHeader)
	mw.Close()
	f.Add(buf.Bytes(), mw.Boundary())
	f.Add([]byte("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\x00.txt\"\r\n\r\nhola\r\n--x--\r\n"), "x")
	f.Add([]byte("--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n"), "x")
	f.Add([]byte("--x--"), "x")
	f.Add([]byte{}, "")
	e, clk, _ := newWorkEnv(f)
	var once sync.Once
	var key string
	var c handoff.Case
	f.Fuzz(func(t *testing.T, body []byte, boundary string) {
		if strings.ContainsFunc(boundary, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			t.Skip("not a header value a client can send")
		}
		once.Do(func() {
			tn := e.newTenant(t, "acme", "")
			conv := e.ingest(t, tn, "ana", "m-1", "hola").Conversation
			key = tn.key
			c = fileCase(t, e, clk, caseBase, key, map[string]any{"type": "queja", "contact_id": conv.ContactID, "description": "x"})
		})
		before := decode[attachmentsBody](t, e.do(t, "GET", casePath(c.ID, "/attachments"), key, nil), 200)
		r := e.do(t, "POST", casePath(c.ID, "/attachments"), key, rawBody(body), "Content-Type", "multipart/form-data; boundary="+boundary)
		after := decode[attachmentsBody](t, e.do(t, "GET", casePath(c.ID, "/attachments"), key, nil), 200)
		switch {
		case r.status == 201:
			if len(after.Data) != len(before.Data)+1 {
				t.Fatalf("201 but %d attachments, then %d", len(before.Data), len(after.Data))
			}
		case r.status == 400 || r.status == 413:
			wantError(t, r, r.status, map[int]string{400: "invalid", 413: "too_large"}[r.status], fieldOf(t, r))
			if len(after.Data) != len(before.Data) {
				t.Fatalf("a refused upload (%d %s) attached a file", r.status, r.body)
			}
		default:
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})
}

// fieldOf returns the field an error response names.
func fieldOf(t *testing.T, r response) string {
	var eb errorBody
	if err := json.Unmarshal(r.body, &eb); err != nil {
		t.Fatalf("error body %s: %v", r.body, err)
	}
	return eb.Error.Field
}

package telegram

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// apiCall is one Bot API request the fake received.
type apiCall struct {
	Token  string
	Method string
	Fields map[string]string
	Files  map[string][]byte
	At     time.Time
}

// apiError is a Bot API error answer.
type apiError struct {
	Status      int
	Code        int
	Description string
	RetryAfter  int
	// Hang holds the request until the client gives up.
	Hang bool
}

// fakeAPI is a local Bot API server for what telegram-test-api lacks: it
// speaks the documented wire format (multipart or JSON requests, {"ok":...}
// answers, errors with parameters.retry_after), holds getUpdates until its
// timeout, serves files, and fails on demand.
type fakeAPI struct {
	t     *testing.T
	srv   *httptest.Server
	calls chan apiCall
	done  chan struct{}

	mu     sync.Mutex
	nextID int
	files  map[string][]byte
	// fail, if set, may answer a call with an error instead.
	fail func(c apiCall) *apiError
	// updates are the pending updates of getUpdates, in order.
	updates []pendingUpdate
	arrived chan struct{}
	// confirmed is the highest offset a getUpdates asked for.
	confirmed int64
	// polls counts getUpdates calls at once, and the most seen.
	polling, maxPolling int
}

type pendingUpdate struct {
	id   int64
	data json.RawMessage
}

func newFakeAPI(t *testing.T) *fakeAPI {
	f := &fakeAPI{t: t, calls: make(chan apiCall, 1000), files: map[string][]byte{}, arrived: make(chan struct{}), nextID: 100}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	// Runs before Close: hanging answers end with the test.
	f.done = make(chan struct{})
	t.Cleanup(func() { close(f.done) })
	return f
}

func (f *fakeAPI) failWith(fn func(c apiCall) *apiError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = fn
}

func (f *fakeAPI) addFile(id string, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files[id] = data
}

// push queues an update for getUpdates.
func (f *fakeAPI) push(id int64, data string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates = append(f.updates, pendingUpdate{id: id, data: json.RawMessage(data)})
	close(f.arrived)
	f.arrived = make(chan struct{})
}

// next returns the next call of one of methods, skipping others.
func (f *fakeAPI) next(ctx context.Context, methods ...string) (apiCall, error) {
	for {
		select {
		case c := <-f.calls:
			for _, m := range methods {
				if c.Method == m {
					return c, nil
				}
			}
		case <-ctx.Done():
			return apiCall{}, fmt.Errorf("no %v call: %w", methods, ctx.Err())
		}
	}
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	if rest, ok := strings.CutPrefix(r.URL.Path, "/file/bot"); ok {
		_, path, _ := strings.Cut(rest, "/")
		id := strings.TrimPrefix(path, "documents/")
		f.mu.Lock()
		data, ok := f.files[id]
		f.mu.Unlock()
		if !ok || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	token, method, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || r.Method != http.MethodPost {
		writeJSON(w, 404, map[string]any{"ok": false, "error_code": 404, "description": "Not Found"})
		return
	}
	c := apiCall{Token: token, Method: method, Fields: map[string]string{}, Files: map[string][]byte{}, At: time.Now()}
	err := readCall(r, &c)
	// Read to the end, so that the server notices a client that leaves.
	io.Copy(io.Discard, r.Body)
	if err != nil {
		writeJSON(w, 400, map[string]any{"ok": false, "error_code": 400, "description": "Bad Request: " + err.Error()})
		return
	}
	select {
	case f.calls <- c:
	default:
		f.t.Error("fake Bot API: too many unread calls")
	}
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail != nil {
		if e := fail(c); e != nil {
			if e.Hang {
				select {
				case <-r.Context().Done():
				case <-f.done:
				}
				return
			}
			body := map[string]any{"ok": false, "error_code": e.Code, "description": e.Description}
			if e.RetryAfter > 0 {
				body["parameters"] = map[string]any{"retry_after": e.RetryAfter}
			}
			writeJSON(w, e.Status, body)
			return
		}
	}
	switch method {
	case "getMe":
		ok200(w, map[string]any{"id": 1, "is_bot": true, "first_name": "Acme", "username": "acme_bot"})
	case "setWebhook", "deleteWebhook", "answerCallbackQuery":
		ok200(w, true)
	case "sendMessage", "sendPhoto", "sendDocument", "sendAudio", "sendVoice", "sendVideo", "sendLocation", "sendVenue", "sendContact":
		chat, _ := strconv.ParseInt(c.Fields["chat_id"], 10, 64)
		f.mu.Lock()
		f.nextID++
		id := f.nextID
		f.mu.Unlock()
		ok200(w, map[string]any{"message_id": id, "date": time.Now().Unix(), "chat": map[string]any{"id": chat, "type": "private"}, "text": c.Fields["text"]})
	case "getFile":
		id := c.Fields["file_id"]
		f.mu.Lock()
		data, ok := f.files[id]
		f.mu.Unlock()
		if !ok {
			writeJSON(w, 400, map[string]any{"ok": false, "error_code": 400, "description": "Bad Request: invalid file_id"})
			return
		}
		ok200(w, map[string]any{"file_id": id, "file_unique_id": "u" + id, "file_size": len(data), "file_path": "documents/" + id})
	case "getUpdates":
		f.getUpdates(w, r, c)
	default:
		writeJSON(w, 404, map[string]any{"ok": false, "error_code": 404, "description": "Not Found: method not found"})
	}
}

// getUpdates answers as Telegram does: the updates from offset on, at
// once if there are some, else when one arrives or the timeout passes.
// Asking from an offset confirms the updates before it.
func (f *fakeAPI) getUpdates(w http.ResponseWriter, r *http.Request, c apiCall) {
	offset, _ := strconv.ParseInt(c.Fields["offset"], 10, 64)
	timeout, _ := strconv.Atoi(c.Fields["timeout"])
	deadline := time.NewTimer(time.Duration(timeout) * time.Second)
	defer deadline.Stop()
	f.mu.Lock()
	f.polling++
	f.maxPolling = max(f.maxPolling, f.polling)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.polling--
		f.mu.Unlock()
	}()
	for {
		f.mu.Lock()
		if offset > f.confirmed {
			f.confirmed = offset
		}
		var out []json.RawMessage
		kept := f.updates[:0]
		for _, u := range f.updates {
			if u.id >= offset {
				kept = append(kept, u)
				out = append(out, u.data)
			}
		}
		f.updates = kept
		arrived := f.arrived
		f.mu.Unlock()
		if len(out) > 0 {
			ok200(w, out)
			return
		}
		select {
		case <-arrived:
		case <-deadline.C:
			ok200(w, []any{})
			return
		case <-r.Context().Done():
			return
		case <-f.done:
			return
		}
	}
}

// readCall reads a request's parameters: multipart form data as
// go-telegram sends it (an empty body may lack its closing boundary), or
// JSON.
func readCall(r *http.Request, c *apiCall) error {
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			return err
		}
		for k, v := range m {
			if s, ok := v.(string); ok {
				c.Fields[k] = s
				continue
			}
			b, _ := json.Marshal(v)
			c.Fields[k] = string(b)
		}
		return nil
	case "multipart/form-data":
		mr := multipart.NewReader(r.Body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF || (err != nil && strings.Contains(err.Error(), "EOF")) {
				return nil
			}
			if err != nil {
				return err
			}
			data, err := io.ReadAll(p)
			if err != nil {
				return err
			}
			if p.FileName() != "" {
				c.Files[p.FormName()] = data
				c.Fields[p.FormName()] = "attach:" + p.FileName()
			} else {
				c.Fields[p.FormName()] = string(data)
			}
		}
	case "":
		return nil
	}
	return fmt.Errorf("content type %q", mt)
}

func ok200(w http.ResponseWriter, result any) {
	writeJSON(w, 200, map[string]any{"ok": true, "result": result})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

package channels_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"conversa/channels"
	"conversa/conversation"
	"conversa/storage/media"
)

func TestMediaLinks(t *testing.T) {
	store, err := media.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	links := &channels.MediaLinks{Secret: []byte("0123456789abcdef0123456789abcdef"), Store: store, Now: func() time.Time { return now }}
	mux := http.NewServeMux()
	links.Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	links.BaseURL = srv.URL

	photo, err := store.Put(t.Context(), 4, conversation.Media{ContentType: "image/png", Filename: "foto factura.png"}, strings.NewReader("png bytes"))
	if err != nil {
		t.Fatal(err)
	}
	page, err := store.Put(t.Context(), 4, conversation.Media{ContentType: "text/html"}, strings.NewReader("<script>alert(1)</script>"))
	if err != nil {
		t.Fatal(err)
	}
	get := func(u string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	u := links.URL(4, photo, time.Hour)
	resp, body := get(u)
	if resp.StatusCode != 200 || body != "png bytes" || resp.Header.Get("Content-Type") != "image/png" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "inline") || !strings.Contains(resp.Header.Get("Content-Disposition"), "foto factura.png") {
		t.Fatalf("GET link = %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, _ = get(links.URL(4, page, time.Hour))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Disposition") != "attachment" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") ||
		resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("an HTML file is served as %v; want an attachment in a sandbox", resp.Header)
	}

	for name, link := range map[string]string{
		"another tenant":   strings.Replace(u, "/media/4/", "/media/5/", 1),
		"another type":     strings.Replace(u, "t=image%2Fpng", "t=text%2Fhtml", 1),
		"another name":     strings.Replace(u, "foto", "otra", 1),
		"no signature":     u[:strings.Index(u, "&s=")],
		"another key":      strings.Replace(u, photo.Key, page.Key, 1),
		"a later deadline": strings.Replace(u, "e=", "e=9", 1),
	} {
		if link == u {
			t.Fatalf("%s: the test did not change the link", name)
		}
		if resp, _ := get(link); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d; want 403", name, resp.StatusCode)
		}
	}
	now = now.Add(time.Hour + time.Second)
	if resp, _ := get(u); resp.StatusCode != http.StatusForbidden {
		t.Errorf("an expired link: status %d; want 403", resp.StatusCode)
	}
	if got := links.URL(4, conversation.Media{URL: "https://x.example/a.png", ContentType: "image/png"}, time.Hour); got != "" {
		t.Errorf("URL of a file not in the store = %q; want none", got)
	}
}

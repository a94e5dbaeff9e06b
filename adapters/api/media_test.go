package api_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"conversa/adapters/api"
	"conversa/channels"
	"conversa/conversation"
	"conversa/storage/media"
)

func TestMessagesLinkStoredFiles(t *testing.T) {
	files, err := media.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	links := &channels.MediaLinks{Secret: []byte("0123456789abcdef0123456789abcdef"), Store: files}
	e := newEnv(t, envOptions{cfg: api.Config{Media: links}})
	mux := http.NewServeMux()
	links.Routes(mux)
	mux.Handle("/", e.srv.Config.Handler)
	e.srv.Config.Handler = mux
	links.BaseURL = e.srv.URL

	tn := e.newTenant(t, "acme", "")
	photo, err := files.Put(t.Context(), tn.ID, conversation.Media{ContentType: "image/jpeg", Filename: "recibo.jpg"}, strings.NewReader("jpeg"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Ingest(t.Context(), conversation.Inbound{
		Channel: conversation.ChannelAPI, Account: tn.api.Key, From: "ana", ProviderID: "m1",
		Parts: []conversation.Part{conversation.TextPart("mi recibo"), {Type: conversation.PartMedia, Media: &photo},
			{Type: conversation.PartMedia, Media: &conversation.Media{ContentType: "video/mp4", Note: "file not kept: larger than the 16 MB accepted"}}},
	})
	if err != nil {
		t.Fatal(err)
	}

	for _, path := range []string{
		fmt.Sprintf("/api/v1/messages/%d", res.Message.ID),
		fmt.Sprintf("/api/v1/conversations/%d/messages", res.Conversation.ID),
	} {
		r := e.do(t, "GET", path, tn.key, nil)
		var m conversation.Message
		if strings.Contains(path, "conversations") {
			m = decode[struct{ Data []conversation.Message }](t, r, 200).Data[0]
		} else {
			m = decode[conversation.Message](t, r, 200)
		}
		if len(m.Parts) != 3 || m.Parts[1].Media == nil || !strings.HasPrefix(m.Parts[1].Media.URL, e.srv.URL+channels.MediaPath) {
			t.Fatalf("GET %s: parts %+v; want a link to the stored photo", path, m.Parts)
		}
		if m.Parts[2].Media.URL != "" || m.Parts[2].Media.Note == "" {
			t.Fatalf("GET %s: the file not kept = %+v; want its note and no link", path, m.Parts[2].Media)
		}
		resp, err := http.Get(m.Parts[1].Media.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "jpeg" {
			t.Fatalf("the link served %d %q", resp.StatusCode, b)
		}
	}
	// The stored message keeps the key, not a link that expires.
	if m, err := e.store.Message(t.Context(), tn.ID, res.Message.ID); err != nil || m.Parts[1].Media.URL != "" || m.Parts[1].Media.Key != photo.Key {
		t.Fatalf("stored media = %+v, %v", m.Parts[1].Media, err)
	}
}

package api

import (
	"encoding/json"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"conversa/conversation"
	"conversa/templates"
)

// The request decoders read untrusted bodies. Their properties: they never
// panic; they fail only with EINVALID or ETOOLARGE and a message; and what
// they accept passes the domain's validation and holds only valid UTF-8
// text without NUL characters.

var sendSeeds = []string{
	`{"text":"¡Hola! ¿En qué te ayudo?"}`,
	`{"text":"hi","author":{"kind":"bot"}}`,
	`{"text":"hi","author":{"kind":"agent","id":7,"name":" Laura "},"account_id":3,"send_at":"2026-03-01T15:04:05-05:00"}`,
	`{"parts":[{"type":"buttons","text":"¿Qué prefieres?","buttons":[{"id":"a","title":"Opción A"},{"title":"B"}]}]}`,
	`{"parts":[{"type":"media","text":"factura","media":{"content_type":"Application/PDF","url":"https://example.com/f.pdf","filename":"f.pdf","size":1234}}]}`,
	`{"parts":[{"type":"media","media":{"content_type":"image/jpeg","key":"tenant/1/a.jpg"}}]}`,
	`{"parts":[{"type":"location","location":{"latitude":4.6097,"longitude":-74.0817,"name":"Bogotá","address":"Cra 7"}}]}`,
	`{"parts":[{"type":"contact","contact":{"name":"Soporte","phones":["+573001234567"],"emails":["a@b.co"]}}]}`,
	`{"parts":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}`,
	`{"parts":[{"type":"text","text":"x","payload":"p"}]}`,
	`{"parts":[{"type":"buttons","buttons":[{"id":"a","title":"x"},{"id":"a","title":"y"}]}]}`,
	`{"parts":[{"type":"buttons","buttons":[{"title":"a"},{"id":"a","title":"b"}]}]}`,
	`{"parts":[{"type":"location","location":{"latitude":91,"longitude":0}}]}`,
	`{"parts":[{"type":"media","media":{"content_type":"image/png","url":"http://a/\u0000"}}]}`,
	`{"parts":[]}`,
	`{"parts":null,"text":""}`,
	`{"text":"a\u0000b"}`,
	`{"text":"\ud800"}`,
	`{"text":"   "}`,
	`{"text":"hola","parts":[{"type":"text","text":"hola"}]}`,
	`{"text":"hola","author":{"kind":"contact"}}`,
	`{"text":"hola","account_id":-1}`,
	`{"text":"hola","extra":1}`,
	`{"text":1}`,
	`{"text":"hola"}]`,
	`{"text":"hola"} {}`,
	`[{"text":"hola"}]`,
	`"hola"`,
	`null`,
	``,
	`{`,
	"{\"text\":\"caf\xe9\"}",
	`{"send_at":"yesterday","text":"x"}`,
	`{"account_id":1e400,"text":"x"}`,
}

func FuzzDecodeSend(f *testing.F) {
	for _, s := range sendSeeds {
		f.Add([]byte(s), "")
		f.Add([]byte(s), "order-42")
	}
	f.Add([]byte(`{"text":"hi"}`), "a\nb")
	f.Add([]byte(`{"text":"`+strings.Repeat("a", conversation.MaxTextBytes+1)+`"}`), "")
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		out, err := decodeSend(body, 1, 2, key)
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		checkBody(t, body)
		if out.TenantID != 1 || out.ConversationID != 2 || out.IdempotencyKey != key {
			t.Fatalf("outbound %+v does not carry tenant 1, conversation 2 and key %q", out, key)
		}
		again := out
		again.Parts = clonePartsJSON(t, out.Parts)
		if err := again.Validate(); err != nil {
			t.Fatalf("the decoded outbound fails validation: %v\n%+v", err, out)
		}
		if !reflect.DeepEqual(again.Parts, out.Parts) || again.Author != out.Author {
			t.Fatalf("validating the decoded outbound changed it:\n%+v\n%+v", out, again)
		}
		checkText(t, out.Author.Name)
		checkParts(t, out.Parts)
		for _, p := range out.Parts {
			if p.Payload != "" {
				t.Fatalf("an outbound part has a payload: %+v", p)
			}
		}
	})
}

var inboundSeeds = []string{
	`{"channel_id":1,"from":"customer-17","from_name":" Carla ","id":"ext-1","text":"hola","language":"es-CO"}`,
	`{"channel_id":1,"from":"user@example.com","id":"m-2","parts":[{"type":"text","text":"Horario","payload":"hours"}]}`,
	`{"channel_id":1,"from":"u1","id":"m-3","parts":[{"type":"location","location":{"latitude":-33.4,"longitude":-70.6}}],"received_at":"2026-01-02T03:04:05Z"}`,
	`{"channel_id":1,"from":"u1","id":"m-4","parts":[{"type":"media","text":"foto","media":{"content_type":"image/jpeg","url":"https://cdn.example.com/a.jpg"}}]}`,
	`{"channel_id":0,"from":"u1","id":"x","text":"hola"}`,
	`{"channel_id":-5,"from":"u1","id":"x","text":"hola"}`,
	`{"channel_id":1,"from":"","id":"x","text":"hola"}`,
	`{"channel_id":1,"from":"has spaces","id":"x","text":"hola"}`,
	`{"channel_id":1,"from":"u1","id":"","text":"hola"}`,
	`{"channel_id":1,"from":"u1","id":"a\nb","text":"hola"}`,
	`{"channel_id":1,"from":"u1","id":"x","text":" \n "}`,
	`{"channel_id":1,"from":"u1","id":"x","text":"a\u0000"}`,
	`{"channel_id":1,"from":"u1","from_name":"\u0000","id":"x","text":"hola"}`,
	`{"channel_id":1,"from":"u1","id":"x","text":"hola","language":"??"}`,
	`{"channel_id":1,"from":"u1","id":"x","text":"hola","parts":[{"type":"text","text":"b"}]}`,
	`{"channel_id":1,"from":"u1","id":"x","received_at":"ayer","text":"hola"}`,
	`{"channel_id":1,"from":"u1","id":"x","received_at":"2999-01-01T00:00:00Z","text":"hola"}`,
	`{"channel_id":1,"from":"u1","id":"x","received_at":"0001-01-01T00:00:00+23:59","text":"hola"}`,
	`{"channel_id":"1","from":"u1","id":"x","text":"hola"}`,
	`{"channel_id":1,"from":"u1","id":"x","text":"hola","channel":"api"}`,
	`{"channel_id":1}}`,
	`[]`,
	``,
}

func FuzzDecodeInbound(f *testing.F) {
	for _, s := range inboundSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"channel_id":1,"from":"u","id":"x","text":"` + strings.Repeat("é", conversation.MaxTextBytes/2+1) + `"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeInbound(body)
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		checkBody(t, body)
		if req.ChannelID <= 0 {
			t.Fatalf("accepted channel_id %d", req.ChannelID)
		}
		in := req.toInbound("acme-api")
		if err := in.Validate(); err != nil {
			t.Fatalf("the decoded inbound fails validation: %v\n%+v", err, in)
		}
		if in.ReceivedAt.After(time.Now().Add(maxClockSkew)) {
			t.Fatalf("accepted received_at %v, in the future", in.ReceivedAt)
		}
		if in.Channel != conversation.ChannelAPI || in.ProviderID != req.ID || in.From == "" {
			t.Fatalf("inbound %+v from request %+v", in, req)
		}
		checkText(t, in.From)
		checkText(t, in.FromName)
		checkText(t, in.ProviderID)
		checkParts(t, in.Parts)
	})
}

var patchSeeds = []string{
	`{"name":"  Ana María  ","language":"es-CO"}`,
	`{"attributes":{"plan":"gold","tier":"1"}}`,
	`{"attributes":{"tier":""}}`,
	`{"language":"EN_us"}`,
	`{"language":""}`,
	`{"name":""}`,
	`{"name":null,"language":null,"attributes":null}`,
	`{}`,
	`{"name":"` + strings.Repeat("ñ", conversation.MaxNameLength+1) + `"}`,
	`{"name":"a\u0000"}`,
	`{"language":"español"}`,
	`{"attributes":{"no spaces":"x"}}`,
	`{"attributes":{"bio":"a\u0000b"}}`,
	`{"attributes":{"":"x"}}`,
	`{"name":42}`,
	`{"nickname":"x"}`,
	`{"name":"Eve"}}`,
	`["name"]`,
	``,
}

func FuzzDecodeContactPatch(f *testing.F) {
	for _, s := range patchSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		u, err := decodeContactPatch(body)
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		checkBody(t, body)
		if u.Name != nil {
			checkText(t, *u.Name)
			if n, err := conversation.NormalizeName("name", *u.Name); err != nil || n != *u.Name {
				t.Fatalf("accepted name %q is not normal: %q, %v", *u.Name, n, err)
			}
		}
		if u.Language != nil {
			if l, err := conversation.NormalizeLanguage("language", *u.Language); err != nil || l != *u.Language {
				t.Fatalf("accepted language %q is not normal: %q, %v", *u.Language, l, err)
			}
		}
		if err := conversation.ValidateAttributes(u.Attributes); err != nil {
			t.Fatalf("accepted attributes fail validation: %v", err)
		}
		for k, v := range u.Attributes {
			checkText(t, k)
			checkText(t, v)
		}
	})
}

// checkBody checks that an accepted body is one JSON value in valid UTF-8.
func checkBody(t *testing.T, body []byte) {
	t.Helper()
	if !json.Valid(body) || !utf8.Valid(body) {
		t.Fatalf("accepted a body that is not one JSON value in UTF-8: %q", body)
	}
}

// checkDecodeError checks that a decoder failed as the API promises: with a
// client error that has a message.
func checkDecodeError(t *testing.T, err error) {
	t.Helper()
	switch code := conversation.ErrorCode(err); code {
	case conversation.EINVALID, conversation.ETOOLARGE:
	default:
		t.Fatalf("error code %q, want invalid or too_large: %v", code, err)
	}
	if conversation.ErrorMessage(err) == "" {
		t.Fatalf("error without a message: %v", err)
	}
}

func checkText(t *testing.T, s string) {
	t.Helper()
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		t.Fatalf("accepted text %q is not valid UTF-8 without NUL", s)
	}
}

func checkParts(t *testing.T, parts []conversation.Part) {
	t.Helper()
	if len(parts) == 0 || len(parts) > conversation.MaxParts {
		t.Fatalf("accepted %d parts", len(parts))
	}
	text := conversation.PartsText(parts)
	checkText(t, text)
	size := 0
	for _, p := range parts {
		size += len(p.Text)
		checkText(t, p.Payload)
		for _, b := range p.Buttons {
			checkText(t, b.ID)
		}
		if p.Media != nil {
			checkText(t, p.Media.URL)
			checkText(t, p.Media.Key)
		}
		if p.Contact != nil {
			for _, s := range append(append([]string(nil), p.Contact.Phones...), p.Contact.Emails...) {
				checkText(t, s)
			}
		}
	}
	if size > conversation.MaxTextBytes {
		t.Fatalf("accepted %d bytes of text", size)
	}
}

// clonePartsJSON copies parts through JSON, as the store does.
func clonePartsJSON(t *testing.T, parts []conversation.Part) []conversation.Part {
	t.Helper()
	b, err := json.Marshal(parts)
	if err != nil {
		t.Fatalf("encode parts: %v", err)
	}
	var out []conversation.Part
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("decode parts: %v", err)
	}
	return out
}

var channelSeeds = []string{
	`{"kind":"api","key":"acme-crm","name":" CRM ","settings":{"webhook_url":"https://crm.example.com/h","webhook_secret":"0123456789abcdef"}}`,
	`{"kind":"webchat","key":"w","settings":{"title":"Ayuda","color":""},"disabled":true}`,
	`{"kind":"telegram","key":"acme_bot","settings":{"bot_token":"(set)"}}`,
	`{"kind":"sms","key":"+573001234567","settings":{"auth_token":"t","":"x"}}`,
	`{"kind":"fax","key":"k"}`,
	`{"kind":"api","key":"a key"}`,
	`{"kind":"api","key":"k","settings":{"x":"a\u0000b"}}`,
	`{"kind":"api","key":"k","settings":{"x":1}}`,
	`{"kind":"api","key":"k","tenant_id":2}`,
	`{"kind":"api","key":"k","settings":null,"name":null}`,
	`{"kind":"api"}`,
	`[]`,
	``,
}

// FuzzDecodeChannel checks the decoder of new channel accounts: what it
// accepts is the tenant's, passes the domain's validation, and has no
// empty setting and no mask for a credential.
func FuzzDecodeChannel(f *testing.F) {
	for _, s := range channelSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := decodeChannel(body, 7)
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		checkBody(t, body)
		if a.TenantID != 7 || a.ID != 0 {
			t.Fatalf("accepted account of tenant %d with id %d", a.TenantID, a.ID)
		}
		again := a
		if err := again.Validate(); err != nil {
			t.Fatalf("accepted account fails validation: %v", err)
		}
		checkText(t, a.Name)
		for k, v := range a.Settings {
			checkText(t, k)
			checkText(t, v)
			if v == "" || (conversation.IsSecretSetting(k) && v == secretMask) {
				t.Fatalf("accepted setting %s=%q", k, v)
			}
		}
	})
}

var settingsPatchSeeds = []string{
	`{"webhook_url":"https://x.example.com"}`,
	`{"webhook_secret":"(set)","webhook_url":"(set)"}`,
	`{"webhook_secret":""}`,
	`{"api_key":"(set)"}`,
	`{"color":"#000000","title":""}`,
	`{}`,
}

// FuzzMergeSettings checks the merge of a PATCH's settings: the stored
// settings are left alone; an empty value removes a setting, the mask of a
// stored credential keeps it, and any other value replaces; a mask for a
// credential that is not stored is refused, naming it.
func FuzzMergeSettings(f *testing.F) {
	for _, s := range settingsPatchSeeds {
		f.Add([]byte(s))
	}
	stored := map[string]string{"webhook_url": "https://crm.example.com/h", "webhook_secret": "0123456789abcdef", "title": "Ayuda"}
	f.Fuzz(func(t *testing.T, body []byte) {
		var patch map[string]string
		if json.Unmarshal(body, &patch) != nil {
			return
		}
		before := maps.Clone(stored)
		got, err := mergeSettings(stored, patch)
		if !maps.Equal(stored, before) {
			t.Fatalf("merge changed the stored settings to %v", stored)
		}
		if err != nil {
			checkDecodeError(t, err)
			name, _ := strings.CutPrefix(conversation.ErrorField(err), "settings.")
			if patch[name] != secretMask || !conversation.IsSecretSetting(name) || stored[name] != "" {
				t.Fatalf("refused %v: %v", patch, err)
			}
			return
		}
		for name := range maps.Keys(stored) {
			if _, ok := patch[name]; !ok && got[name] != stored[name] {
				t.Fatalf("unpatched %s=%q became %q", name, stored[name], got[name])
			}
		}
		for name, v := range patch {
			switch want, ok := got[name]; {
			case v == "":
				if ok {
					t.Fatalf("%s=%q not removed", name, want)
				}
			case v == secretMask && conversation.IsSecretSetting(name):
				if want != stored[name] {
					t.Fatalf("masked %s became %q, want the stored %q", name, want, stored[name])
				}
			case want != v:
				t.Fatalf("%s=%q, want %q", name, want, v)
			}
		}
		if len(got) > len(stored)+len(patch) {
			t.Fatalf("merged %v has settings from nowhere", got)
		}
	})
}

var templateSourceSeeds = []struct {
	body, contentType string
}{
	{"purpose: survey\nvariants:\n  - {channel: sms, language: es, text: hola}\n", "application/yaml"},
	{"purpose: survey\n", "text/yaml; charset=utf-8"},
	{"purpose: survey\n", "text/plain"},
	{"", "application/x-yaml"},
	{"caf\xe9", "application/yaml"},
	{`{"source":"purpose: survey\n"}`, "application/json"},
	{`{"source":"purpose: survey\n"}`, ""},
	{`{"source":""}`, "application/json; charset=utf-8"},
	{`{"source":null}`, "application/json"},
	{`{"source":1}`, "application/json"},
	{`{"src":"x"}`, "application/json"},
	{`{"source":"x"} {}`, "application/json"},
	{`{"source":"\ud800"}`, "application/json"},
	{`[]`, "application/json"},
	{`{"source":"x"}`, "application/x-www-form-urlencoded"},
	{`{"source":"x"}`, "yaml;;"},
	{strings.Repeat("#", 300<<10), "application/yaml"},
}

// FuzzDecodeTemplateSource checks the decoder of PUT /templates/{purpose}:
// a raw body is the file as is; a JSON body must be an object with the
// file as source; an accepted file is at most templates.MaxSourceSize
// bytes; and templates.Parse, which judges the file, never panics on it.
func FuzzDecodeTemplateSource(f *testing.F) {
	for _, s := range templateSourceSeeds {
		f.Add([]byte(s.body), s.contentType)
	}
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		isJSON, err := templateBodyIsJSON(contentType)
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		src, err := decodeTemplateSource(body, isJSON)
		if err != nil {
			checkDecodeError(t, err)
			if conversation.ErrorCode(err) == conversation.ETOOLARGE && conversation.ErrorField(err) != "source" {
				t.Fatalf("too large without naming source: %v", err)
			}
			return
		}
		if len(src) > templates.MaxSourceSize {
			t.Fatalf("accepted a file of %d bytes", len(src))
		}
		if isJSON {
			checkBody(t, body)
			var req struct{ Source string }
			if err := json.Unmarshal(body, &req); err != nil || req.Source != string(src) {
				t.Fatalf("accepted %q as the file %q", body, src)
			}
		} else if string(src) != string(body) {
			t.Fatalf("the raw body %q became %q", body, src)
		}
		if _, err := templates.Parse("t.yaml", src); err != nil && conversation.ErrorCode(err) != conversation.EINVALID {
			t.Fatalf("parse: %v", err)
		}
	})
}

var previewSeeds = []string{
	`{"channel":"sms"}`,
	`{"channel":"whatsapp","language":"es-CO","data":{"name":"Ana","radicado":"PQR-1"}}`,
	`{"channel":"email","language":"en_us","data":{"answer":"<b>x</b>"}}`,
	`{"channel":"default"}`,
	`{"channel":"fax"}`,
	`{"channel":""}`,
	`{"language":"es"}`,
	`{"channel":"sms","language":"español"}`,
	`{"channel":"sms","data":{"a":1}}`,
	`{"channel":"sms","data":{"a":"\u0000\ud800"}}`,
	`{"channel":"sms","fallback":"en"}`,
	`{"channel":"sms"}]`,
	`null`,
	``,
}

// FuzzDecodePreview checks the decoder of preview requests: what it accepts
// is for a channel, in a readable language or none, with its data as sent.
func FuzzDecodePreview(f *testing.F) {
	for _, s := range previewSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodePreview(body)
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		checkBody(t, body)
		if !req.Channel.Valid() || req.Fallback != "" {
			t.Fatalf("accepted %+v", req)
		}
		if req.Language != "" && templates.CanonicalLanguage(req.Language) == "" {
			t.Fatalf("accepted language %q", req.Language)
		}
		for k, v := range req.Data {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				t.Fatalf("accepted data %q=%q", k, v)
			}
		}
	})
}

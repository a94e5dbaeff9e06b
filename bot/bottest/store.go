// Package bottest holds the contract suite that every bot.Store must pass.
package bottest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"conversa/bot"
	"conversa/conversation"
)

// TestStore runs the bot.Store contract. newStore returns an empty store of
// its own for every subtest, as the conversation.Store that holds its
// tenants and conversations and the bot.Store under test (usually the same
// value); subtests run in parallel.
func TestStore(t *testing.T, newStore func(t *testing.T) (conversation.Store, bot.Store)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, cs conversation.Store, s bot.Store)
	}{
		{"VersionNumbers", testVersionNumbers},
		{"VersionContent", testVersionContent},
		{"ListVersions", testListVersions},
		{"Activate", testActivate},
		{"VersionTenantIsolation", testVersionTenantIsolation},
		{"ConcurrentCreate", testConcurrentCreate},
		{"ConcurrentActivate", testConcurrentActivate},
		{"Sessions", testSessions},
		{"SessionConflict", testSessionConflict},
		{"ConcurrentSaveSession", testConcurrentSaveSession},
		{"SessionIsolation", testSessionIsolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cs, s := newStore(t)
			tt.fn(t, cs, s)
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantNotFound(t *testing.T, err error, what string) {
	t.Helper()
	if !conversation.IsNotFound(err) {
		t.Fatalf("%s: error %v, want not found", what, err)
	}
}

func wantConflict(t *testing.T, err error, what string) {
	t.Helper()
	if !conversation.IsConflict(err) {
		t.Fatalf("%s: error %v, want conflict", what, err)
	}
}

func newTenant(t *testing.T, cs conversation.Store, slug string) conversation.Tenant {
	t.Helper()
	tn := conversation.Tenant{Slug: slug, Name: "Tenant " + slug}
	must(t, tn.Validate())
	tn, err := cs.CreateTenant(t.Context(), tn)
	must(t, err)
	return tn
}

// newConversations opens n conversations of the tenant, one per contact.
func newConversations(t *testing.T, cs conversation.Store, tn conversation.Tenant, n int) []conversation.Conversation {
	t.Helper()
	acct, err := cs.CreateChannelAccount(t.Context(), conversation.ChannelAccount{
		TenantID: tn.ID, Kind: conversation.ChannelWebchat, Key: tn.Slug + "-web", Name: "Web",
	})
	must(t, err)
	convs := make([]conversation.Conversation, n)
	for i := range convs {
		visitor := "visitor-" + strconv.Itoa(i)
		res, err := cs.Ingest(t.Context(), []conversation.IngestRequest{{
			TenantID: tn.ID, AccountID: acct.ID,
			Inbound: conversation.Inbound{
				Channel: acct.Kind, Account: acct.Key, From: visitor, ProviderID: visitor + ":1",
				Parts: []conversation.Part{conversation.TextPart("hola")},
			},
		}})
		must(t, err)
		must(t, res[0].Err)
		convs[i] = res[0].Conversation
	}
	return convs
}

// version returns a small bot version of the tenant, to be created.
func version(tenantID int64, note string) *bot.Version {
	src := []byte(`{"domain.yml":"intents: [` + note + `]"}`)
	sum := sha256.Sum256(src)
	return &bot.Version{
		TenantID: tenantID, Source: src, Model: []byte("model of " + note), Report: []byte(`{"accuracy":0.9}`),
		Checksum: hex.EncodeToString(sum[:]), Note: note,
	}
}

func create(t *testing.T, s bot.Store, v *bot.Version) *bot.Version {
	t.Helper()
	must(t, s.CreateBotVersion(t.Context(), v))
	return v
}

func numbers(vs []bot.Version) []int64 {
	ns := make([]int64, len(vs))
	for i, v := range vs {
		ns[i] = v.Number
	}
	return ns
}

func testVersionNumbers(t *testing.T, cs conversation.Store, s bot.Store) {
	a := newTenant(t, cs, "alpha")
	b := newTenant(t, cs, "bravo")
	start := time.Now()
	// Interleaved, so that a shared sequence would show.
	for i, want := range []struct {
		tenant conversation.Tenant
		number int64
	}{{a, 1}, {a, 2}, {b, 1}, {a, 3}, {b, 2}} {
		v := create(t, s, version(want.tenant.ID, fmt.Sprint("v", i)))
		if v.Number != want.number {
			t.Fatalf("version %d of %s: Number %d, want %d", i, want.tenant.Slug, v.Number, want.number)
		}
		if v.CreatedAt.Before(start.Add(-time.Second)) || v.CreatedAt.After(time.Now().Add(time.Second)) {
			t.Fatalf("version %d: CreatedAt %v, want about now (%v)", i, v.CreatedAt, start)
		}
		if v.Active || !v.ActivatedAt.IsZero() {
			t.Fatalf("new version is active: %+v", v)
		}
	}
	err := s.CreateBotVersion(t.Context(), version(b.ID+1000, "orphan"))
	wantNotFound(t, err, "CreateBotVersion of a missing tenant")
	// The failed create took no number.
	v := create(t, s, version(b.ID, "third"))
	if v.Number != 3 {
		t.Fatalf("third version of bravo: Number %d, want 3", v.Number)
	}
}

func testVersionContent(t *testing.T, cs conversation.Store, s bot.Store) {
	ctx := t.Context()
	tn := newTenant(t, cs, "acme")
	// A model of a few hundred KB holding every byte value, and a report
	// that is not valid UTF-8 (nor JSON): the store keeps bytes as they are.
	model := make([]byte, 300<<10)
	x := uint32(2463534242)
	for i := range model {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		model[i] = byte(x)
	}
	copy(model, []byte{0, 0xff, 0xfe, 0})
	report := []byte{'{', 0xff, 0xfe, 0xc3, 0x28, 0x00, 'x', 0xe2, 0x82, '}'}
	source := []byte(`{"domain.yml":"intents:\n  - saludo # ¿qué tal?\n","flows/pago.yml":"steps: []\n"}`)
	sum := sha256.Sum256(source)
	in := &bot.Version{TenantID: tn.ID, Source: source, Model: model, Report: report, Checksum: hex.EncodeToString(sum[:]), Note: "ana: first training"}
	must(t, s.CreateBotVersion(ctx, in))

	got, err := s.BotVersion(ctx, tn.ID, in.Number)
	must(t, err)
	if got.TenantID != tn.ID || got.Number != in.Number || got.Checksum != in.Checksum || got.Note != in.Note ||
		!got.CreatedAt.Equal(in.CreatedAt) || got.Active || !got.ActivatedAt.IsZero() {
		t.Fatalf("BotVersion = %+v, want %+v", got, in)
	}
	if !bytes.Equal(got.Source, source) {
		t.Errorf("Source = %q, want %q", got.Source, source)
	}
	if !bytes.Equal(got.Model, model) {
		t.Errorf("Model: %d bytes came back, not the %d stored", len(got.Model), len(model))
	}
	if !bytes.Equal(got.Report, report) {
		t.Errorf("Report = %q, want %q", got.Report, report)
	}

	// Empty content is kept as empty.
	empty := create(t, s, &bot.Version{TenantID: tn.ID, Checksum: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"})
	got, err = s.BotVersion(ctx, tn.ID, empty.Number)
	must(t, err)
	if len(got.Source) != 0 || len(got.Model) != 0 || len(got.Report) != 0 || got.Note != "" || got.Checksum != empty.Checksum {
		t.Fatalf("empty version = %+v", got)
	}

	_, err = s.BotVersion(ctx, tn.ID, empty.Number+1)
	wantNotFound(t, err, "BotVersion of a missing number")
	_, err = s.BotVersion(ctx, tn.ID, 0)
	wantNotFound(t, err, "BotVersion 0")
}

func testListVersions(t *testing.T, cs conversation.Store, s bot.Store) {
	ctx := t.Context()
	tn := newTenant(t, cs, "acme")
	empty := newTenant(t, cs, "empty")
	vs, err := s.BotVersions(ctx, empty.ID)
	must(t, err)
	if len(vs) != 0 {
		t.Fatalf("BotVersions of a tenant without bots = %+v", vs)
	}
	var created []*bot.Version
	for _, note := range []string{"one", "two", "three"} {
		created = append(created, create(t, s, version(tn.ID, note)))
	}
	vs, err = s.BotVersions(ctx, tn.ID)
	must(t, err)
	if got := numbers(vs); !slices.Equal(got, []int64{3, 2, 1}) {
		t.Fatalf("BotVersions numbers = %v, want newest first", got)
	}
	for i, v := range vs {
		want := created[len(created)-1-i]
		if v.TenantID != tn.ID || v.Checksum != want.Checksum || v.Note != want.Note || !v.CreatedAt.Equal(want.CreatedAt) || v.Active {
			t.Errorf("listed %+v, want %+v", v, want)
		}
		if v.Source != nil || v.Model != nil || v.Report != nil {
			t.Errorf("listed version %d carries its source, model or report", v.Number)
		}
	}
}

func testActivate(t *testing.T, cs conversation.Store, s bot.Store) {
	ctx := t.Context()
	tn := newTenant(t, cs, "acme")
	active := func() int64 {
		t.Helper()
		n, err := s.ActiveBotVersion(ctx, tn.ID)
		must(t, err)
		return n
	}
	// onlyActive checks that exactly version n is active, everywhere the
	// store says so.
	onlyActive := func(n int64) bot.Version {
		t.Helper()
		if got := active(); got != n {
			t.Fatalf("ActiveBotVersion = %d, want %d", got, n)
		}
		vs, err := s.BotVersions(ctx, tn.ID)
		must(t, err)
		var activeOne bot.Version
		for _, v := range vs {
			if v.Active != (v.Number == n) {
				t.Fatalf("after activating %d, version %d has Active %v", n, v.Number, v.Active)
			}
			if v.Active {
				activeOne = v
			}
		}
		got, err := s.BotVersion(ctx, tn.ID, n)
		must(t, err)
		if !got.Active || !got.ActivatedAt.Equal(activeOne.ActivatedAt) {
			t.Fatalf("BotVersion(%d) = %+v, listed as %+v", n, got, activeOne)
		}
		if activeOne.ActivatedAt.Before(activeOne.CreatedAt) {
			t.Fatalf("active version %d: ActivatedAt %v before CreatedAt %v", n, activeOne.ActivatedAt, activeOne.CreatedAt)
		}
		return activeOne
	}

	if got := active(); got != 0 {
		t.Fatalf("ActiveBotVersion of a tenant without bots = %d, want 0", got)
	}
	for _, note := range []string{"one", "two", "three"} {
		create(t, s, version(tn.ID, note))
	}
	if got := active(); got != 0 {
		t.Fatalf("ActiveBotVersion with no version activated = %d, want 0", got)
	}
	must(t, s.ActivateBotVersion(ctx, tn.ID, 2))
	first := onlyActive(2)
	must(t, s.ActivateBotVersion(ctx, tn.ID, 3))
	onlyActive(3)
	// Activating an older version again is a rollback.
	must(t, s.ActivateBotVersion(ctx, tn.ID, 2))
	again := onlyActive(2)
	if again.ActivatedAt.Before(first.ActivatedAt) {
		t.Fatalf("re-activated version: ActivatedAt %v, before its first activation %v", again.ActivatedAt, first.ActivatedAt)
	}
	// Activating the active version changes nothing.
	must(t, s.ActivateBotVersion(ctx, tn.ID, 2))
	onlyActive(2)

	wantNotFound(t, s.ActivateBotVersion(ctx, tn.ID, 4), "activating a missing version")
	wantNotFound(t, s.ActivateBotVersion(ctx, tn.ID, 0), "activating version 0")
	wantNotFound(t, s.ActivateBotVersion(ctx, tn.ID+1000, 1), "activating a version of a missing tenant")
	// A failed activation leaves the active version active.
	onlyActive(2)
}

func testVersionTenantIsolation(t *testing.T, cs conversation.Store, s bot.Store) {
	ctx := t.Context()
	a := newTenant(t, cs, "alpha")
	b := newTenant(t, cs, "bravo")
	for _, note := range []string{"a1", "a2", "a3"} {
		create(t, s, version(a.ID, note))
	}
	must(t, s.ActivateBotVersion(ctx, a.ID, 2))
	bv := create(t, s, version(b.ID, "b1"))

	_, err := s.BotVersion(ctx, b.ID, 2)
	wantNotFound(t, err, "b reading a's version 2")
	wantNotFound(t, s.ActivateBotVersion(ctx, b.ID, 3), "b activating a's version 3")
	got, err := s.BotVersion(ctx, b.ID, 1)
	must(t, err)
	if got.Note != "b1" || got.TenantID != b.ID || !bytes.Equal(got.Source, bv.Source) {
		t.Fatalf("b's version 1 = %+v, want b's own", got)
	}
	vs, err := s.BotVersions(ctx, b.ID)
	must(t, err)
	if len(vs) != 1 || vs[0].Note != "b1" {
		t.Fatalf("BotVersions of b = %+v", vs)
	}
	if n, err := s.ActiveBotVersion(ctx, b.ID); err != nil || n != 0 {
		t.Fatalf("ActiveBotVersion of b = %d, %v; want 0 (a's active version is a's)", n, err)
	}
	// One active version per tenant, not per store.
	must(t, s.ActivateBotVersion(ctx, b.ID, 1))
	if n, err := s.ActiveBotVersion(ctx, a.ID); err != nil || n != 2 {
		t.Fatalf("ActiveBotVersion of a after b activated = %d, %v; want 2", n, err)
	}
	if n, err := s.ActiveBotVersion(ctx, b.ID); err != nil || n != 1 {
		t.Fatalf("ActiveBotVersion of b = %d, %v; want 1", n, err)
	}
}

func testConcurrentCreate(t *testing.T, cs conversation.Store, s bot.Store) {
	const n = 8
	tenants := []conversation.Tenant{newTenant(t, cs, "alpha"), newTenant(t, cs, "bravo")}
	var mu sync.Mutex
	got := map[int64][]int64{}
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		for _, tn := range tenants {
			wg.Go(func() {
				v := version(tn.ID, fmt.Sprint("concurrent ", i))
				if err := s.CreateBotVersion(context.Background(), v); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				got[tn.ID] = append(got[tn.ID], v.Number)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := []int64{1, 2, 3, 4, 5, 6, 7, 8}
	for _, tn := range tenants {
		ns := got[tn.ID]
		slices.Sort(ns)
		if !slices.Equal(ns, want) {
			t.Fatalf("%d concurrent creates for %s got numbers %v, want %v", n, tn.Slug, ns, want)
		}
		vs, err := s.BotVersions(t.Context(), tn.ID)
		must(t, err)
		if listed := numbers(vs); !slices.Equal(listed, []int64{8, 7, 6, 5, 4, 3, 2, 1}) {
			t.Fatalf("%s lists versions %v", tn.Slug, listed)
		}
	}
}

func testConcurrentActivate(t *testing.T, cs conversation.Store, s bot.Store) {
	const n = 8
	tn := newTenant(t, cs, "acme")
	for i := range n {
		create(t, s, version(tn.ID, fmt.Sprint("v", i)))
	}
	for round := range 3 {
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				if err := s.ActivateBotVersion(context.Background(), tn.ID, int64(i+1)); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: concurrent activation failed: %v", round, err)
		}
		vs, err := s.BotVersions(t.Context(), tn.ID)
		must(t, err)
		var active []int64
		for _, v := range vs {
			if v.Active {
				active = append(active, v.Number)
			}
		}
		n, err := s.ActiveBotVersion(t.Context(), tn.ID)
		must(t, err)
		if len(active) != 1 || active[0] != n {
			t.Fatalf("round %d: after concurrent activations, active versions %v, ActiveBotVersion %d; want exactly one", round, active, n)
		}
	}
}

func testSessions(t *testing.T, cs conversation.Store, s bot.Store) {
	ctx := t.Context()
	tn := newTenant(t, cs, "acme")
	conv := newConversations(t, cs, tn, 1)[0]

	got, err := s.Session(ctx, tn.ID, conv.ID)
	must(t, err)
	if got.Version != 0 || len(got.State) != 0 {
		t.Fatalf("Session before any save = %+v, want version 0", got)
	}

	// The state is kept byte for byte, spacing and key order included.
	start := time.Now()
	state := []byte(`{"flow": "pago",  "slots":{"mes":"03", "a":[ ]}}`)
	sess := &bot.Session{TenantID: tn.ID, ConversationID: conv.ID, State: state}
	must(t, s.SaveSession(ctx, sess))
	if sess.Version != 1 {
		t.Fatalf("first save: Version %d, want 1", sess.Version)
	}
	got, err = s.Session(ctx, tn.ID, conv.ID)
	must(t, err)
	if got.TenantID != tn.ID || got.ConversationID != conv.ID || got.Version != 1 || !bytes.Equal(got.State, state) {
		t.Fatalf("Session = %+v (state %s), want version 1 with state %s", got, got.State, state)
	}
	if got.UpdatedAt.Before(start.Add(-time.Second)) || got.UpdatedAt.After(time.Now().Add(time.Second)) {
		t.Fatalf("UpdatedAt %v, want about now (%v)", got.UpdatedAt, start)
	}

	for want := int64(2); want <= 4; want++ {
		got.State = fmt.Appendf(nil, `{"turn":%d}`, want)
		must(t, s.SaveSession(ctx, &got))
		if got.Version != want {
			t.Fatalf("save of version %d: Version %d, want %d", want-1, got.Version, want)
		}
	}
	read, err := s.Session(ctx, tn.ID, conv.ID)
	must(t, err)
	if read.Version != 4 || string(read.State) != `{"turn":4}` || read.UpdatedAt.Before(got.UpdatedAt) {
		t.Fatalf("Session after 4 saves = %+v (state %s)", read, read.State)
	}
}

func testSessionConflict(t *testing.T, cs conversation.Store, s bot.Store) {
	ctx := t.Context()
	tn := newTenant(t, cs, "acme")
	conv := newConversations(t, cs, tn, 1)[0]
	cur := &bot.Session{TenantID: tn.ID, ConversationID: conv.ID, State: []byte(`{"step":1}`)}
	must(t, s.SaveSession(ctx, cur))
	cur.State = []byte(`{"step":2}`)
	must(t, s.SaveSession(ctx, cur))
	stored, err := s.Session(ctx, tn.ID, conv.ID)
	must(t, err)

	for _, stale := range []int64{0, 1, 3, 99} {
		sess := &bot.Session{TenantID: tn.ID, ConversationID: conv.ID, Version: stale, State: []byte(`{"stale":true}`)}
		wantConflict(t, s.SaveSession(ctx, sess), fmt.Sprintf("save of version %d over version 2", stale))
		if sess.Version != stale {
			t.Fatalf("a failed save changed the caller's Version from %d to %d", stale, sess.Version)
		}
	}
	got, err := s.Session(ctx, tn.ID, conv.ID)
	must(t, err)
	if got.Version != 2 || string(got.State) != `{"step":2}` || !got.UpdatedAt.Equal(stored.UpdatedAt) {
		t.Fatalf("after stale saves, Session = %+v (state %s), want it unchanged: %+v", got, got.State, stored)
	}
}

func testConcurrentSaveSession(t *testing.T, cs conversation.Store, s bot.Store) {
	const n = 8
	tn := newTenant(t, cs, "acme")
	conv := newConversations(t, cs, tn, 1)[0]
	// Round 0 races to create the session, the others to update it.
	for round := range int64(3) {
		var won atomic.Int32
		var winner atomic.Value
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				state := fmt.Sprintf(`{"round":%d,"writer":%d}`, round, i)
				sess := &bot.Session{TenantID: tn.ID, ConversationID: conv.ID, Version: round, State: []byte(state)}
				err := s.SaveSession(context.Background(), sess)
				switch {
				case err == nil:
					won.Add(1)
					winner.Store(state)
				case !conversation.IsConflict(err):
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round, err)
		}
		if won.Load() != 1 {
			t.Fatalf("round %d: %d of %d concurrent saves of version %d succeeded, want exactly 1", round, won.Load(), n, round)
		}
		got, err := s.Session(t.Context(), tn.ID, conv.ID)
		must(t, err)
		if got.Version != round+1 || string(got.State) != winner.Load().(string) {
			t.Fatalf("round %d: Session = version %d, state %s; want version %d, the winner's state %s", round, got.Version, got.State, round+1, winner.Load())
		}
	}
}

func testSessionIsolation(t *testing.T, cs conversation.Store, s bot.Store) {
	ctx := t.Context()
	a := newTenant(t, cs, "alpha")
	b := newTenant(t, cs, "bravo")
	aconvs := newConversations(t, cs, a, 2)
	bconv := newConversations(t, cs, b, 1)[0]

	must(t, s.SaveSession(ctx, &bot.Session{TenantID: a.ID, ConversationID: aconvs[0].ID, State: []byte(`{"of":"a0"}`)}))
	// Another conversation of the same tenant has its own session.
	got, err := s.Session(ctx, a.ID, aconvs[1].ID)
	must(t, err)
	if got.Version != 0 || len(got.State) != 0 {
		t.Fatalf("session of a's other conversation = %+v (state %s), want none", got, got.State)
	}
	second := &bot.Session{TenantID: a.ID, ConversationID: aconvs[1].ID, State: []byte(`{"of":"a1"}`)}
	must(t, s.SaveSession(ctx, second))
	if second.Version != 1 {
		t.Fatalf("first save in a's other conversation: Version %d, want 1", second.Version)
	}

	// b sees nothing of a's sessions and cannot write them.
	got, err = s.Session(ctx, b.ID, aconvs[0].ID)
	must(t, err)
	if got.Version != 0 || len(got.State) != 0 {
		t.Fatalf("b reads a's session: %+v (state %s)", got, got.State)
	}
	err = s.SaveSession(ctx, &bot.Session{TenantID: b.ID, ConversationID: aconvs[0].ID, State: []byte(`{"of":"b"}`)})
	wantNotFound(t, err, "b creating a session in a's conversation")
	err = s.SaveSession(ctx, &bot.Session{TenantID: b.ID, ConversationID: aconvs[0].ID, Version: 1, State: []byte(`{"of":"b"}`)})
	if err == nil {
		t.Fatal("b overwrote a's session")
	}
	err = s.SaveSession(ctx, &bot.Session{TenantID: a.ID, ConversationID: bconv.ID + 1000, State: []byte(`{}`)})
	wantNotFound(t, err, "creating a session in a missing conversation")
	must(t, s.SaveSession(ctx, &bot.Session{TenantID: b.ID, ConversationID: bconv.ID, State: []byte(`{"of":"b"}`)}))

	for _, c := range []struct {
		tenant, conv int64
		state        string
	}{{a.ID, aconvs[0].ID, `{"of":"a0"}`}, {a.ID, aconvs[1].ID, `{"of":"a1"}`}, {b.ID, bconv.ID, `{"of":"b"}`}} {
		got, err := s.Session(ctx, c.tenant, c.conv)
		must(t, err)
		if got.Version != 1 || string(got.State) != c.state {
			t.Errorf("session of tenant %d, conversation %d = version %d, state %s; want version 1, state %s", c.tenant, c.conv, got.Version, got.State, c.state)
		}
	}
}

// TestSealedSources checks that a store keeps bot definitions encrypted:
// they hold the secrets of HTTP actions. open returns a store on one
// database, the same for every call within the test, with the given sealer
// (nil for none). The definitions hold "whsec_bot_clear_before" (stored
// before the store had a key) and "whsec_bot_sealed_0123" (with one).
func TestSealedSources(t *testing.T, open func(t *testing.T, sealer *conversation.Sealer) (conversation.Store, bot.Store)) {
	ctx := t.Context()
	keyA, _ := conversation.NewSealer(bytes.Repeat([]byte{1}, 32))
	keyB, _ := conversation.NewSealer(bytes.Repeat([]byte{2}, 32))
	made := 0
	withSecret := func(tenantID int64, secret string) *bot.Version {
		made++
		v := version(tenantID, fmt.Sprint("v", made))
		v.Source = []byte(`{"bot.yaml":"actions:\n  crm:\n    url: https://crm.example/\n    secret: ` + secret + `\n"}`)
		sum := sha256.Sum256(v.Source)
		v.Checksum = hex.EncodeToString(sum[:])
		return v
	}

	// Before the store had a key, definitions were stored in the clear.
	cs, clear := open(t, nil)
	tn := newTenant(t, cs, "sealed-bots")
	other := newTenant(t, cs, "sealed-bots-other")
	old := create(t, clear, withSecret(tn.ID, "whsec_bot_clear_before"))
	if n, err := clear.SealBotSources(ctx); err != nil || n != 0 {
		t.Errorf("SealBotSources without a key: %d, %v; want nothing done", n, err)
	}

	_, s := open(t, keyA)
	got, err := s.BotVersion(ctx, tn.ID, old.Number)
	must(t, err)
	if !bytes.Equal(got.Source, old.Source) {
		t.Fatalf("a clear source reads as %q; want it as it is", got.Source)
	}
	fresh := withSecret(tn.ID, "whsec_bot_sealed_0123")
	want := bytes.Clone(fresh.Source)
	create(t, s, fresh)
	if !bytes.Equal(fresh.Source, want) {
		t.Fatalf("CreateBotVersion changed the caller's source to %q", fresh.Source)
	}
	// An empty source stays empty (nil and empty read alike): nothing to
	// seal, and no error on read.
	empty := version(other.ID, "empty")
	empty.Source = nil
	create(t, s, empty)
	sealed, err := s.SealBotSources(ctx)
	must(t, err)
	if sealed != 1 {
		t.Errorf("SealBotSources sealed %d; want the 1 clear source", sealed)
	}
	if n, err := s.SealBotSources(ctx); err != nil || n != 0 {
		t.Errorf("sealing again: %d, %v; want nothing left", n, err)
	}
	for _, v := range []*bot.Version{old, fresh, empty} {
		got, err := s.BotVersion(ctx, v.TenantID, v.Number)
		must(t, err)
		if !bytes.Equal(got.Source, v.Source) || !bytes.Equal(got.Model, v.Model) || got.Checksum != v.Checksum {
			t.Errorf("version %d of tenant %d reads source %q, model %q, checksum %s; want %q, %q, %s",
				v.Number, v.TenantID, got.Source, got.Model, got.Checksum, v.Source, v.Model, v.Checksum)
		}
	}

	// Without the key, or with another, no source opens: none is stored in
	// the clear any more. The list, which holds no source, still works.
	for name, sealer := range map[string]*conversation.Sealer{"no key": nil, "another key": keyB} {
		_, s := open(t, sealer)
		for _, v := range []*bot.Version{old, fresh} {
			if got, err := s.BotVersion(ctx, tn.ID, v.Number); !errors.Is(err, conversation.ErrSealed) || got.Source != nil {
				t.Errorf("%s: version %d reads %q, %v; want ErrSealed", name, v.Number, got.Source, err)
			}
		}
		if list, err := s.BotVersions(ctx, tn.ID); err != nil || len(list) != 2 {
			t.Errorf("%s: the list is %+v, %v", name, list, err)
		}
	}
}

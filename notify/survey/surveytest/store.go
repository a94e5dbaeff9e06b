// Package surveytest holds the contract suite that every survey.Store must
// pass.
package surveytest

import (
	"reflect"
	"sync"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/notify/survey"
)

// TestStore runs the survey.Store contract. newStore returns an empty store
// of its own, as the conversation.Store that holds the tenants and the
// survey.Store under test (usually the same value).
func TestStore(t *testing.T, newStore func(t *testing.T) (conversation.Store, survey.Store)) {
	setup := func(t *testing.T) (survey.Store, int64, int64) {
		cs, s := newStore(t)
		tenant := func(slug string) int64 {
			tn := conversation.Tenant{Slug: slug, Name: slug}
			if err := tn.Validate(); err != nil {
				t.Fatal(err)
			}
			tn, err := cs.CreateTenant(t.Context(), tn)
			if err != nil {
				t.Fatal(err)
			}
			return tn.ID
		}
		return s, tenant("acme"), tenant("other")
	}
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	base := time.Date(2026, 3, 2, 15, 4, 5, 123456000, time.UTC)

	t.Run("LifecycleAndIsolation", func(t *testing.T) {
		t.Parallel()
		s, acme, other := setup(t)
		ctx := t.Context()
		in := survey.Survey{TenantID: acme, ContactID: 7, Kind: survey.KindNPS, Purpose: survey.PurposeNPS,
			Subject: "topic:entrega", NotificationID: 41, Status: survey.StatusScheduled, TTL: 72 * time.Hour}
		sv, created, err := s.InsertSurvey(ctx, in)
		must(t, err)
		if !created || sv.ID == 0 || sv.CreatedAt.IsZero() {
			t.Fatalf("inserted %+v, created %v", sv, created)
		}
		in.ID, in.CreatedAt = sv.ID, sv.CreatedAt
		if !reflect.DeepEqual(sv, in) {
			t.Fatalf("stored\n%+v\nwant\n%+v", sv, in)
		}
		again, created, err := s.InsertSurvey(ctx, survey.Survey{TenantID: acme, ContactID: 7, Kind: survey.KindCSAT,
			Purpose: survey.PurposeCSAT, NotificationID: 41, TTL: time.Hour})
		must(t, err)
		if created || !reflect.DeepEqual(again, sv) {
			t.Fatalf("a second survey of notification 41: created %v, %+v", created, again)
		}
		got, err := s.Survey(ctx, acme, sv.ID)
		must(t, err)
		if !reflect.DeepEqual(got, sv) {
			t.Fatalf("read back %+v", got)
		}
		if got, err = s.SurveyOfNotification(ctx, acme, 41); err != nil || got.ID != sv.ID {
			t.Fatalf("survey of notification 41: %+v %v", got, err)
		}

		// Not pending while scheduled; sent, it is, until it expires.
		if p, err := s.PendingSurveys(ctx, acme, 7, base); err != nil || len(p) != 0 {
			t.Fatalf("pending while scheduled: %+v %v", p, err)
		}
		sent := sv
		sent.Status, sent.Channel, sent.ConversationID, sent.MessageID = survey.StatusSent, conversation.ChannelWebchat, 3, 99
		sent.SentAt, sent.ExpiresAt = base, base.Add(72*time.Hour)
		marked, err := s.MarkSurveySent(ctx, sent)
		must(t, err)
		if !reflect.DeepEqual(marked, sent) {
			t.Fatalf("marked sent\n%+v\nwant\n%+v", marked, sent)
		}
		if again, err := s.MarkSurveySent(ctx, sent); !conversation.IsConflict(err) || again.Status != survey.StatusSent {
			t.Fatalf("marked twice: %+v %v", again, err)
		}
		if p, err := s.PendingSurveys(ctx, acme, 7, base.Add(time.Hour)); err != nil || len(p) != 1 || p[0].ID != sv.ID {
			t.Fatalf("pending: %+v %v", p, err)
		}
		if p, err := s.PendingSurveys(ctx, acme, 7, base.Add(72*time.Hour)); err != nil || len(p) != 0 {
			t.Fatalf("pending once expired: %+v %v", p, err)
		}

		// Another tenant sees and touches nothing.
		if _, err := s.Survey(ctx, other, sv.ID); !conversation.IsNotFound(err) {
			t.Errorf("read another tenant's survey: %v", err)
		}
		if _, err := s.SurveyOfNotification(ctx, other, 41); !conversation.IsNotFound(err) {
			t.Errorf("another tenant's survey of a notification: %v", err)
		}
		if l, err := s.ListSurveys(ctx, other, survey.Filter{}); err != nil || len(l) != 0 {
			t.Errorf("another tenant's list: %+v %v", l, err)
		}
		if p, err := s.PendingSurveys(ctx, other, 7, base); err != nil || len(p) != 0 {
			t.Errorf("another tenant's pending: %+v %v", p, err)
		}
		foreign := sent
		foreign.TenantID = other
		if _, err := s.MarkSurveySent(ctx, foreign); !conversation.IsNotFound(err) {
			t.Errorf("mark another tenant's survey sent: %v", err)
		}
		foreign.Score, foreign.AnsweredAt, foreign.AnswerMessageID = 1, base, 500
		if err := s.RecordSurveyAnswer(ctx, foreign); !conversation.IsNotFound(err) {
			t.Errorf("answer another tenant's survey: %v", err)
		}
		if tl, err := s.SurveyTallies(ctx, other, survey.KindNPS, base.Add(-time.Hour), base.Add(time.Hour)); err != nil || len(tl) != 0 {
			t.Errorf("another tenant's tallies: %+v %v", tl, err)
		}
		if _, _, err := s.InsertSurvey(ctx, survey.Survey{TenantID: 1 << 40, ContactID: 7, Kind: survey.KindNPS, Purpose: survey.PurposeNPS,
			NotificationID: 41, TTL: time.Hour}); !conversation.IsNotFound(err) {
			t.Errorf("insert for no tenant: %v", err)
		}

		// The answer, once.
		if _, err := s.SurveyAnsweredBy(ctx, acme, 500); !conversation.IsNotFound(err) {
			t.Fatalf("answered by message 500 before it was: %v", err)
		}
		ans := marked
		ans.Score, ans.AnsweredAt, ans.AnswerChannel, ans.AnswerMessageID, ans.AnswerText = 9, base.Add(time.Minute), conversation.ChannelSMS, 500, "9"
		must(t, s.RecordSurveyAnswer(ctx, ans))
		second := ans
		second.Score, second.AnswerMessageID = 3, 501
		if err := s.RecordSurveyAnswer(ctx, second); !conversation.IsConflict(err) {
			t.Fatalf("answered twice: %v", err)
		}
		got, err = s.SurveyAnsweredBy(ctx, acme, 500)
		must(t, err)
		ans.Status = survey.StatusAnswered
		if !reflect.DeepEqual(got, ans) {
			t.Fatalf("answered\n%+v\nwant\n%+v", got, ans)
		}
		if _, err := s.SurveyAnsweredBy(ctx, other, 500); !conversation.IsNotFound(err) {
			t.Errorf("another tenant's answer: %v", err)
		}
		if p, err := s.PendingSurveys(ctx, acme, 7, base.Add(time.Hour)); err != nil || len(p) != 0 {
			t.Fatalf("pending once answered: %+v %v", p, err)
		}
		// A scheduled survey takes no answer.
		sch, _, err := s.InsertSurvey(ctx, survey.Survey{TenantID: acme, ContactID: 7, Kind: survey.KindCSAT, Purpose: survey.PurposeCSAT, NotificationID: 42, TTL: time.Hour})
		must(t, err)
		sch.Score, sch.AnsweredAt, sch.AnswerMessageID = 4, base, 502
		if err := s.RecordSurveyAnswer(ctx, sch); !conversation.IsConflict(err) {
			t.Fatalf("answered a scheduled survey: %v", err)
		}
	})

	t.Run("PendingNewestFirst", func(t *testing.T) {
		t.Parallel()
		s, acme, _ := setup(t)
		ctx := t.Context()
		var ids []int64
		for i, at := range []time.Time{base.Add(2 * time.Hour), base, base.Add(time.Hour)} {
			sv, _, err := s.InsertSurvey(ctx, survey.Survey{TenantID: acme, ContactID: 8, Kind: survey.KindCSAT, Purpose: survey.PurposeCSAT,
				NotificationID: int64(100 + i), TTL: 24 * time.Hour})
			must(t, err)
			sv.Status, sv.Channel, sv.SentAt, sv.ExpiresAt = survey.StatusSent, conversation.ChannelWhatsApp, at, at.Add(24*time.Hour)
			_, err = s.MarkSurveySent(ctx, sv)
			must(t, err)
			ids = append(ids, sv.ID)
		}
		p, err := s.PendingSurveys(ctx, acme, 8, base.Add(3*time.Hour))
		must(t, err)
		if len(p) != 3 || p[0].ID != ids[0] || p[1].ID != ids[2] || p[2].ID != ids[1] {
			t.Fatalf("pending order %v, want the most recently sent first (%v)", p, ids)
		}
		if p, _ := s.PendingSurveys(ctx, acme, 9, base); len(p) != 0 {
			t.Fatalf("another contact's pending: %+v", p)
		}
	})

	t.Run("ListAndTallies", func(t *testing.T) {
		t.Parallel()
		s, acme, _ := setup(t)
		ctx := t.Context()
		day2 := base.Add(24 * time.Hour)
		for i, c := range []struct {
			kind    survey.Kind
			channel conversation.ChannelKind
			at      time.Time
			score   int // -1: not answered, -2: failed
		}{
			{survey.KindNPS, conversation.ChannelSMS, base, 10},
			{survey.KindNPS, conversation.ChannelSMS, base.Add(time.Minute), 10},
			{survey.KindNPS, conversation.ChannelWebchat, base, 3},
			{survey.KindNPS, conversation.ChannelWebchat, day2, -1},
			{survey.KindNPS, "", base, -2},
			{survey.KindCSAT, conversation.ChannelSMS, base, 5},
		} {
			sv, _, err := s.InsertSurvey(ctx, survey.Survey{TenantID: acme, ContactID: int64(i + 1), Kind: c.kind,
				Purpose: survey.DefaultPurpose(c.kind), NotificationID: int64(i + 1), TTL: 48 * time.Hour})
			must(t, err)
			sv.Status, sv.Channel, sv.SentAt, sv.ExpiresAt = survey.StatusSent, c.channel, c.at, c.at.Add(48*time.Hour)
			if c.score == -2 {
				sv.Status, sv.SentAt, sv.ExpiresAt = survey.StatusFailed, time.Time{}, time.Time{}
			}
			sv, err = s.MarkSurveySent(ctx, sv)
			must(t, err)
			if c.score >= 0 {
				sv.Score, sv.AnsweredAt, sv.AnswerChannel, sv.AnswerMessageID = c.score, c.at.Add(time.Minute), c.channel, int64(1000+i)
				must(t, s.RecordSurveyAnswer(ctx, sv))
			}
		}
		tl, err := s.SurveyTallies(ctx, acme, survey.KindNPS, base.Add(-time.Hour), day2.Add(time.Hour))
		must(t, err)
		h1, h2 := base.Truncate(time.Hour), day2.Truncate(time.Hour)
		want := []survey.Tally{
			{Hour: h1, Channel: conversation.ChannelSMS, Score: 10, Count: 2},
			{Hour: h1, Channel: conversation.ChannelWebchat, Score: 3, Count: 1},
			{Hour: h2, Channel: conversation.ChannelWebchat, Score: -1, Count: 1},
		}
		if !reflect.DeepEqual(tl, want) {
			t.Fatalf("tallies\n%+v\nwant\n%+v", tl, want)
		}
		if tl, _ := s.SurveyTallies(ctx, acme, survey.KindNPS, base.Add(time.Hour), day2.Add(time.Hour)); len(tl) != 1 || tl[0].Hour != h2 {
			t.Fatalf("tallies of the second day: %+v", tl)
		}

		all, err := s.ListSurveys(ctx, acme, survey.Filter{})
		must(t, err)
		if len(all) != 6 || all[0].NotificationID != 6 || all[5].NotificationID != 1 {
			t.Fatalf("list: %d surveys, newest first? %+v", len(all), all)
		}
		nps, _ := s.ListSurveys(ctx, acme, survey.Filter{Kind: survey.KindNPS, Status: survey.StatusAnswered})
		if len(nps) != 3 {
			t.Fatalf("answered NPS surveys: %+v", nps)
		}
		page, _ := s.ListSurveys(ctx, acme, survey.Filter{Limit: 2, BeforeID: all[1].ID})
		if len(page) != 2 || page[0].ID != all[2].ID || page[1].ID != all[3].ID {
			t.Fatalf("page before %d: %+v", all[1].ID, page)
		}
		if l, _ := s.ListSurveys(ctx, acme, survey.Filter{ContactID: 3}); len(l) != 1 || l[0].ContactID != 3 {
			t.Fatalf("contact 3's surveys: %+v", l)
		}
		future := time.Now().Add(time.Hour)
		if l, _ := s.ListSurveys(ctx, acme, survey.Filter{From: future}); len(l) != 0 {
			t.Fatalf("surveys created after %v: %+v", future, l)
		}
		if l, _ := s.ListSurveys(ctx, acme, survey.Filter{To: future}); len(l) != 6 {
			t.Fatalf("surveys created before %v: %d", future, len(l))
		}
	})

	t.Run("ConcurrentInsert", func(t *testing.T) {
		t.Parallel()
		s, acme, _ := setup(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		ids, created := map[int64]bool{}, 0
		for range 8 {
			wg.Go(func() {
				sv, c, err := s.InsertSurvey(t.Context(), survey.Survey{TenantID: acme, ContactID: 1, Kind: survey.KindCSAT,
					Purpose: survey.PurposeCSAT, NotificationID: 77, TTL: time.Hour})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Error(err)
					return
				}
				ids[sv.ID] = true
				if c {
					created++
				}
			})
		}
		wg.Wait()
		if len(ids) != 1 || created != 1 {
			t.Fatalf("8 concurrent inserts of one notification's survey: ids %v, %d created", ids, created)
		}
	})
}

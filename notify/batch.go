package notify

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"conversa/conversation"
)

// MaxBatch is the most requests NotifyBatch takes at once.
const MaxBatch = 1000

// BatchResult is what became of one request of NotifyBatch: its
// notification (a retry's is the first one), or the error that refused
// it, with the codes Notify returns.
type BatchResult struct {
	Notification Notification
	Err          error
}

// NotifyBatch is Notify for many requests of one tenant, with the same
// rules and errors, in one transaction for all: the tenant, its policy and
// templates are read once and the contacts in bulk, and the notifications
// it creates share one job (JobNotifyBatch) instead of one each. Result i
// is rs[i]'s; a request refused does not stop the others. The error is
// for the whole batch: EINVALID for more than MaxBatch requests or a
// request of another tenant, ENOTFOUND for a tenant that does not exist,
// or the store's.
func (s *Service) NotifyBatch(ctx context.Context, tenantID int64, rs []Request) ([]BatchResult, error) {
	if len(rs) > MaxBatch {
		return nil, conversation.Errorf(conversation.EINVALID, "at most %d notifications in a batch", MaxBatch)
	}
	results := make([]BatchResult, len(rs))
	for i, r := range rs {
		if r.TenantID != tenantID {
			return nil, conversation.FieldError("tenant_id", "every request of a batch must be tenant %d's", tenantID)
		}
		results[i].Err = r.validate()
	}
	if len(rs) == 0 {
		return results, nil
	}
	v, err := s.newView(ctx, tenantID)
	if err != nil {
		return nil, unwrapJobError(err)
	}
	contacts, err := s.contacts(ctx, tenantID, rs, results)
	if err != nil {
		return nil, err
	}
	var ns []Notification
	var at []int // at[k] is the request of ns[k]
	for i, r := range rs {
		if results[i].Err != nil {
			continue
		}
		n, err := s.schedule(ctx, v, r, contacts[r.ContactID])
		if err != nil {
			if conversation.ErrorCode(err) != conversation.EINVALID {
				return nil, err
			}
			results[i].Err = err
			continue
		}
		ns, at = append(ns, n), append(at, i)
	}
	if len(ns) == 0 {
		return results, nil
	}
	stored, err := s.store.CreateNotifications(ctx, tenantID, ns)
	if err != nil {
		return nil, fmt.Errorf("store notifications: %w", err)
	}
	wake := false
	for k, c := range stored {
		i := at[k]
		if !c.Created && c.Notification.Fingerprint != ns[k].Fingerprint {
			results[i].Err = &conversation.Error{Code: conversation.ECONFLICT, Field: "idempotency_key",
				Message: fmt.Sprintf("idempotency key %q was used for another notification (%d)", rs[i].IdempotencyKey, c.Notification.ID)}
			continue
		}
		results[i].Notification = c.Notification
		wake = wake || c.Created && !c.Notification.Due.After(v.now)
	}
	if wake {
		s.cfg.JobsAdded()
	}
	return results, nil
}

// contacts reads the contacts of the valid requests in bulk; a request
// whose contact is not the tenant's gets ENOTFOUND.
func (s *Service) contacts(ctx context.Context, tenantID int64, rs []Request, results []BatchResult) (map[int64]conversation.Contact, error) {
	var ids []int64
	for i, r := range rs {
		if results[i].Err == nil {
			ids = append(ids, r.ContactID)
		}
	}
	cs, err := s.store.ContactsByID(ctx, tenantID, dedup(ids))
	if err != nil {
		return nil, fmt.Errorf("read contacts: %w", err)
	}
	byID := make(map[int64]conversation.Contact, len(cs))
	for _, c := range cs {
		byID[c.ID] = c
	}
	for i, r := range rs {
		if _, ok := byID[r.ContactID]; !ok && results[i].Err == nil {
			results[i].Err = &conversation.Error{Code: conversation.ENOTFOUND, Field: "contact_id", Message: "contact not found"}
		}
	}
	return byID, nil
}

// schedule checks a request against its template and makes its
// notification, due at the first allowed time, as Notify does.
func (s *Service) schedule(ctx context.Context, v *view, r Request, contact conversation.Contact) (Notification, error) {
	tpl, err := v.template(ctx, r.Purpose)
	if conversation.IsNotFound(err) {
		return Notification{}, conversation.FieldError("purpose", "the tenant has no template for purpose %q", r.Purpose)
	}
	if err != nil {
		return Notification{}, fmt.Errorf("read template %s: %w", r.Purpose, err)
	}
	for _, name := range slices.Sorted(maps.Keys(tpl.Variables)) {
		if tpl.Variables[name].Required && strings.TrimSpace(r.Data[name]) == "" {
			return Notification{}, conversation.FieldError("data."+name, "the template %s requires it", r.Purpose)
		}
	}
	loc, _ := ContactZone(contact, v.tenant)
	due := v.now
	if r.SendAfter.After(due) {
		due = r.SendAfter
	}
	if !v.policy.urgent(r.Purpose, tpl.Urgent) {
		due = v.policy.quietHours(r.Purpose).NextAllowed(due, loc)
	}
	return Notification{
		TenantID: r.TenantID, ContactID: r.ContactID, Purpose: r.Purpose, Data: r.Data,
		IdempotencyKey: r.IdempotencyKey, Channels: r.Channels, SendAfter: r.SendAfter,
		Fingerprint: r.fingerprint(), Status: StatusScheduled, Due: due, TimeZone: loc.String(),
	}, nil
}

// BatchIDs reads the notification ids of a JobNotifyBatch job's payload.
func BatchIDs(j conversation.Job) ([]int64, error) {
	var ids []int64
	if err := json.Unmarshal(j.Payload, &ids); err != nil {
		return nil, fmt.Errorf("read the ids of notification batch job %d: %w", j.ID, err)
	}
	return ids, nil
}

// Batch returns the notifications of a JobNotifyBatch job as they are
// now, for what follows their outcomes (surveys waiting for an answer).
func (s *Service) Batch(ctx context.Context, j conversation.Job) ([]Notification, error) {
	ids, err := BatchIDs(j)
	if err != nil {
		return nil, err
	}
	return s.store.Notifications(ctx, j.TenantID, ids)
}

// NotifyBatchJob is the conversation.JobHandler of JobNotifyBatch. It
// decides every notification of the batch still scheduled by the rules of
// NotifyJob, reading what they need in bulk (contacts, when each last
// wrote, consent), then opens their conversations and queues their
// messages and delivery jobs with one Send, and records the outcomes in
// one transaction. Those not yet allowed are rescheduled, each with a job
// of its own. When the Send is refused, each notification of it is sent
// as NotifyJob would, so that one cannot fail the others. Running it twice
// sends each once.
func (s *Service) NotifyBatchJob(ctx context.Context, j conversation.Job) error {
	ids, err := BatchIDs(j)
	if err != nil {
		return &conversation.JobError{Err: err, Permanent: true}
	}
	ns, err := s.store.Notifications(ctx, j.TenantID, ids)
	if err != nil {
		return err
	}
	ns = slices.DeleteFunc(ns, func(n Notification) bool { return n.Status != StatusScheduled })
	if len(ns) == 0 {
		return nil
	}
	b, err := s.newBatch(ctx, j.TenantID, ns)
	if err != nil {
		return err
	}
	for _, n := range ns {
		if err := b.decide(ctx, n); err != nil {
			return err
		}
	}
	if err := b.send(ctx); err != nil {
		return err
	}
	return b.finish(ctx)
}

// batch is the state of one NotifyBatchJob run.
type batch struct {
	svc      *Service
	view     *view
	contacts map[int64]conversation.Contact
	// sends are the notifications to send, with their messages;
	// done the outcomes to record.
	sends []pending
	done  []Notification
	// sentIn counts the notifications of a contact and purpose decided
	// sent in this batch, for the frequency caps.
	sentIn map[contactPurpose]int
}

type contactPurpose struct {
	contact int64
	purpose string
}

// pending is a notification to send and where.
type pending struct {
	n       Notification
	c       *candidate
	skipped []Skip
}

// newBatch reads in bulk what deciding ns needs.
func (s *Service) newBatch(ctx context.Context, tenantID int64, ns []Notification) (*batch, error) {
	v, err := s.newView(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(ns))
	for _, n := range ns {
		ids = append(ids, n.ContactID)
	}
	ids = dedup(ids)
	cs, err := s.store.ContactsByID(ctx, tenantID, ids)
	if err != nil {
		return nil, fmt.Errorf("read contacts: %w", err)
	}
	b := &batch{svc: s, view: v, contacts: make(map[int64]conversation.Contact, len(cs)), sentIn: map[contactPurpose]int{}}
	var addresses []string
	for _, c := range cs {
		b.contacts[c.ID] = c
		for _, id := range c.Identities {
			addresses = append(addresses, id.Address)
		}
	}
	last, err := s.store.LastInbounds(ctx, tenantID, ids)
	if err != nil {
		return nil, fmt.Errorf("read last inbound messages: %w", err)
	}
	purposes := map[string]bool{}
	for _, n := range ns {
		purposes[n.Purpose] = true
	}
	optOuts := map[OptOut]bool{}
	for _, p := range slices.Sorted(maps.Keys(purposes)) {
		os, err := s.store.OptOutsOf(ctx, tenantID, dedup(addresses), p)
		if err != nil {
			return nil, fmt.Errorf("read consent: %w", err)
		}
		for _, o := range os {
			optOuts[o] = true
		}
	}
	v.lastInbound = func(_ context.Context, contactID, accountID int64) (time.Time, error) {
		return last[ContactAccount{contactID, accountID}], nil
	}
	v.optedOut = func(_ context.Context, accountID int64, address, purpose string) (bool, error) {
		return optOuts[OptOut{AccountID: accountID, Address: address, Purpose: purpose}], nil
	}
	countSent := v.countSent
	v.countSent = func(ctx context.Context, contactID int64, purpose string, since time.Time) (int, error) {
		n, err := countSent(ctx, contactID, purpose, since)
		return n + b.sentIn[contactPurpose{contactID, purpose}], err
	}
	return b, nil
}

// decide applies the rules to n: a notification to wait is rescheduled
// now, one to send is kept for send, any other outcome for finish.
func (b *batch) decide(ctx context.Context, n Notification) error {
	s, v := b.svc, b.view
	contact, ok := b.contacts[n.ContactID]
	if !ok {
		n.Status, n.Note = StatusUndeliverable, "the contact no longer exists"
		b.done = append(b.done, n)
		return nil
	}
	tpl, err := v.template(ctx, n.Purpose)
	if conversation.IsNotFound(err) {
		n.Status, n.Note = StatusUndeliverable, noTemplate(n.Purpose)
		b.done = append(b.done, n)
		return nil
	}
	if err != nil {
		return err
	}
	if next, note, ok := v.wait(n, contact, tpl); ok {
		if _, err := s.store.RescheduleNotification(ctx, n.TenantID, n.ID, next, note); err != nil && !conversation.IsConflict(err) {
			return fmt.Errorf("reschedule notification %d: %w", n.ID, err)
		}
		return nil
	}
	note, capped, err := v.capped(ctx, n)
	if err != nil {
		return err
	}
	if capped {
		n.Status, n.Note = StatusSuppressed, note
		b.done = append(b.done, n)
		return nil
	}
	var skipped []Skip
	c, err := v.choose(ctx, n, contact, tpl, 0, &skipped)
	if err != nil {
		return err
	}
	if c == nil {
		b.done = append(b.done, undeliverable(n, skipped))
		return nil
	}
	b.sentIn[contactPurpose{n.ContactID, n.Purpose}]++
	b.sends = append(b.sends, pending{n: n, c: c, skipped: skipped})
	return nil
}

// send opens the conversations of the notifications to send and queues
// their messages in one Send. When that is refused, each is sent as
// NotifyJob sends it, and records its own outcome.
func (b *batch) send(ctx context.Context) error {
	if len(b.sends) == 0 {
		return nil
	}
	s := b.svc
	keys := make([]ContactAccount, len(b.sends))
	for i, p := range b.sends {
		keys[i] = ContactAccount{ContactID: p.n.ContactID, AccountID: p.c.out.AccountID}
	}
	convs, err := s.store.OpenConversations(ctx, b.view.tenant.ID, keys)
	if err != nil {
		return fmt.Errorf("open the contacts' conversations: %w", err)
	}
	outs := make([]conversation.Outbound, len(b.sends))
	for i, p := range b.sends {
		outs[i] = p.c.out
		outs[i].ConversationID = convs[i].ID
	}
	res, err := s.deps.Sender.Send(ctx, outs...)
	if err != nil {
		s.cfg.Logger.Info("notification batch: sending one at a time", "tenant", b.view.tenant.ID, "notifications", len(outs), "err", err)
		return b.sendEach(ctx)
	}
	for i, p := range b.sends {
		b.done = append(b.done, sent(p.n, res[i].Message, p.skipped, b.view.now))
	}
	return nil
}

// sendEach runs NotifyJob's rules for each notification to send, in a view
// that reads the stores again, so that the store's refusal of one moves it
// to its next channel as NotifyJob would.
func (b *batch) sendEach(ctx context.Context) error {
	s := b.svc
	v, err := s.newView(ctx, b.view.tenant.ID)
	if err != nil {
		return err
	}
	v.now = b.view.now
	for _, p := range b.sends {
		contact := b.contacts[p.n.ContactID]
		tpl, err := v.template(ctx, p.n.Purpose)
		if err != nil {
			return err
		}
		if err := s.runOne(ctx, v, p.n, contact, tpl); err != nil {
			return err
		}
	}
	return nil
}

// finish records the batch's outcomes in one transaction.
func (b *batch) finish(ctx context.Context) error {
	if len(b.done) == 0 {
		return nil
	}
	s := b.svc
	recorded, err := s.store.FinishNotifications(ctx, b.view.tenant.ID, b.done)
	if err != nil {
		return fmt.Errorf("record %d notifications: %w", len(b.done), err)
	}
	for _, n := range recorded {
		if s.cfg.Recorded != nil {
			s.cfg.Recorded(ctx, n)
		}
		s.cfg.Logger.Debug("notification", "tenant", n.TenantID, "notification", n.ID, "status", n.Status, "channel", n.Channel, "note", n.Note)
	}
	return nil
}

// dedup returns the distinct values of s, sorted.
func dedup[T cmp.Ordered](s []T) []T {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// unwrapJobError returns the error inside a JobError: outside a job the
// permanence means nothing.
func unwrapJobError(err error) error {
	var je *conversation.JobError
	if errors.As(err, &je) {
		return je.Err
	}
	return err
}

package reports

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"conversa/conversation"
)

// Aggregates keeps the incremental aggregates: counters per tenant, hour
// and metric, and one Fact per conversation, folded from the messages
// (read by id above a watermark) and the outbox of the lower-volume facts.
// storage/sqlite and storage/postgres implement it; reportstest proves
// both. Every method that takes a tenant id reads only that tenant's rows.
// All methods are safe for concurrent use, also from several processes.
type Aggregates interface {
	// Rollup folds, in one transaction, up to o.Batch new messages and
	// up to o.Batch outbox rows with Fold into the aggregates, advances
	// the watermark, and enqueues one JobExport job per tenant of the
	// batch with an enabled analytics destination. Each message and
	// outbox row is folded exactly once, also with rollups running at
	// once on several nodes.
	Rollup(ctx context.Context, o RollupOptions) (RollupResult, error)
	// Backfill rebuilds the aggregates of a tenant (0: every tenant) for
	// the hours of [from, to) from the source tables, replacing them: the
	// counters of those hours, and the facts of the conversations opened
	// in them. It first folds what is pending, in the same transaction,
	// so that nothing is counted twice or lost while the pipeline runs.
	Backfill(ctx context.Context, tenantID int64, from, to time.Time) error

	// Counters returns the tenant's counters of the metrics for the hours
	// of [from, to), by hour.
	Counters(ctx context.Context, tenantID int64, from, to time.Time, metrics ...string) ([]Counter, error)
	// Top returns the tenant's counters of a metric summed over the hours
	// of [from, to) by dimension (Hour is zero), largest first, at most
	// limit.
	Top(ctx context.Context, tenantID int64, metric string, from, to time.Time, limit int) ([]Counter, error)
	// Closed counts the tenant's conversations closed in [from, to), and
	// of them those never handed to a person.
	Closed(ctx context.Context, tenantID int64, from, to time.Time) (closed, contained int64, err error)
	// Timings returns the first response times (of conversations first
	// answered by an agent in the period) or the resolution times (of
	// conversations closed in it), overall and by channel, queue and agent
	// (Name left empty). Medians and p90 are exact: the discrete
	// percentile of the durations (PercentileDisc).
	Timings(ctx context.Context, q TimingQuery) ([]Timing, error)
	// Cases returns the figures of the tenant's cases (ByStatus the status
	// now) filed in [from, to), of those due in it, and of those overdue
	// at now; FiledByHour counts the filed ones by hour. In a scope, only
	// the cases of its teams or agents.
	Cases(ctx context.Context, tenantID int64, from, to, now time.Time, scope *Scope) (CaseFigures, []Counter, error)
	// SurveyScores counts the tenant's surveys of kind ("csat", "nps")
	// sent in [from, to) by score; Key "" counts those not answered.
	SurveyScores(ctx context.Context, tenantID int64, kind string, from, to time.Time) ([]Count, error)
	// Directory returns the tenant's teams, queues and agents.
	Directory(ctx context.Context, tenantID int64) (Directory, error)
	// Revision returns the revision of the tenant's settled days (see
	// Settled) that hold [from, to) (see Days): the revision of the last
	// rollup or backfill that changed one of them, 0 if none did.
	// Rollups and backfills that change settled days take revisions that
	// grow in the order they commit, so a revision read before the
	// figures and read again unchanged later proves that the figures of
	// the period, but for the cases and surveys, have not changed.
	Revision(ctx context.Context, tenantID int64, from, to time.Time) (int64, error)
}

// Metrics of the counters, with their dimensions.
const (
	MetricConversations = "conversations" // dim: channel
	MetricMessagesIn    = "messages_in"   // dim: channel
	MetricMessagesOut   = "messages_out"  // dim: channel
	MetricHandoffs      = "handoffs"      // dim: reason, dim2: queue id
	MetricIntents       = "intents"       // dim: intent
	MetricUnrecognized  = "unrecognized"  // dim: normalized text
	MetricFailures      = "failures"      // dim: channel, dim2: code
)

// MaxTextLen is the length, in runes, an unrecognized text is kept to.
const MaxTextLen = 100

// Counter is a count of one metric, tenant and hour (UTC).
type Counter struct {
	TenantID int64
	Hour     time.Time
	Metric   string
	Dim      string
	Dim2     string
	N        int64
}

// Fact is what the aggregates keep of one conversation. A zero time is
// unknown (not yet, or never).
type Fact struct {
	TenantID       int64
	ConversationID int64
	// Channel is the channel of the conversation's first message.
	Channel  conversation.ChannelKind
	OpenedAt time.Time
	// QueuedAt and QueueID are its first handoff.
	QueuedAt time.Time
	QueueID  int64
	// AssignedAt and AgentID are its last assignment.
	AssignedAt time.Time
	AgentID    int64
	// FirstReplyAt is its first agent-authored outbound message.
	FirstReplyAt time.Time
	// ClosedAt is its last close.
	ClosedAt time.Time
}

// Merge folds b, facts learned of the same conversation in any order,
// into f.
func (f *Fact) Merge(b Fact) {
	if earlier(b.OpenedAt, f.OpenedAt) {
		f.OpenedAt, f.Channel = b.OpenedAt, b.Channel
	}
	if earlier(b.QueuedAt, f.QueuedAt) {
		f.QueuedAt, f.QueueID = b.QueuedAt, b.QueueID
	}
	if !b.AssignedAt.IsZero() && (f.AssignedAt.IsZero() || !b.AssignedAt.Before(f.AssignedAt)) {
		f.AssignedAt, f.AgentID = b.AssignedAt, b.AgentID
	}
	if earlier(b.FirstReplyAt, f.FirstReplyAt) {
		f.FirstReplyAt = b.FirstReplyAt
	}
	if b.ClosedAt.After(f.ClosedAt) {
		f.ClosedAt = b.ClosedAt
	}
}

// earlier reports whether a is known and before b or b unknown.
func earlier(a, b time.Time) bool { return !a.IsZero() && (b.IsZero() || a.Before(b)) }

// Row is one fact as a store reads it: a message (Name
// EventMessageReceived or EventMessageSent; Key the author's kind, AgentID
// an agent author's id, Flag the first message of its conversation), or
// an outbox row (Ref the row the fact is about; see the migration).
type Row struct {
	Name           string
	TenantID       int64
	Ref            int64
	ConversationID int64
	ContactID      int64
	Channel        conversation.ChannelKind
	At             time.Time
	QueueID        int64
	AgentID        int64
	Key            string
	Detail         string
	Score          float64
	Flag           bool
}

// MessageRow returns the Row of a message.
func MessageRow(tenantID, id, conversationID, contactID, seq int64, direction conversation.Direction, authorKind string, authorID int64, ch conversation.ChannelKind, at time.Time) Row {
	r := Row{Name: EventMessageReceived, TenantID: tenantID, Ref: id, ConversationID: conversationID, ContactID: contactID,
		Channel: ch, At: at, Key: authorKind, Flag: seq == 1}
	if direction == conversation.DirectionOut {
		r.Name = EventMessageSent
	}
	if authorKind == string(conversation.AuthorAgent) {
		r.AgentID = authorID
	}
	return r
}

// Delta is what a batch of rows adds to the aggregates.
type Delta struct {
	// Counters are increments, one per key.
	Counters []Counter
	// Facts are what the batch learned of each conversation, to Merge into
	// the stored facts.
	Facts []Fact
	// Tenants are the tenants of the batch, ascending.
	Tenants []int64
}

// Fold computes what rows add to the aggregates.
func Fold(rows []Row) Delta {
	type key struct {
		tenant            int64
		hour              int64
		metric, dim, dim2 string
	}
	counts := map[key]int64{}
	facts := map[[2]int64]*Fact{}
	tenants := map[int64]bool{}
	count := func(r Row, metric, dim, dim2 string) {
		counts[key{r.TenantID, r.At.UTC().Truncate(time.Hour).Unix(), metric, dim, dim2}]++
	}
	fact := func(r Row, f Fact) {
		f.TenantID, f.ConversationID = r.TenantID, r.ConversationID
		k := [2]int64{r.TenantID, r.ConversationID}
		if facts[k] == nil {
			facts[k] = &Fact{TenantID: r.TenantID, ConversationID: r.ConversationID}
		}
		facts[k].Merge(f)
	}
	for _, r := range rows {
		tenants[r.TenantID] = true
		ch := string(r.Channel)
		switch r.Name {
		case EventMessageReceived, EventMessageSent:
			metric := MetricMessagesIn
			if r.Name == EventMessageSent {
				metric = MetricMessagesOut
			}
			count(r, metric, ch, "")
			if r.Flag {
				count(r, MetricConversations, ch, "")
				fact(r, Fact{OpenedAt: r.At, Channel: r.Channel})
			}
			if r.Name == EventMessageSent && r.Key == string(conversation.AuthorAgent) {
				fact(r, Fact{FirstReplyAt: r.At})
			}
		case EventHandedOff:
			count(r, MetricHandoffs, r.Key, strconv.FormatInt(r.QueueID, 10))
			fact(r, Fact{QueuedAt: r.At, QueueID: r.QueueID})
		case EventAssigned:
			fact(r, Fact{AssignedAt: r.At, AgentID: r.AgentID})
		case EventConversationClosed:
			fact(r, Fact{ClosedAt: r.At})
		case EventIntentRecognized:
			count(r, MetricIntents, r.Key, "")
		case EventMessageUnrecognized:
			if t := NormalizeText(r.Key); t != "" {
				count(r, MetricUnrecognized, t, "")
			}
		case EventMessageFailed:
			count(r, MetricFailures, ch, r.Key)
		}
	}
	var d Delta
	for k, n := range counts {
		d.Counters = append(d.Counters, Counter{TenantID: k.tenant, Hour: time.Unix(k.hour, 0).UTC(), Metric: k.metric, Dim: k.dim, Dim2: k.dim2, N: n})
	}
	slices.SortFunc(d.Counters, func(a, b Counter) int {
		return cmp.Or(cmp.Compare(a.TenantID, b.TenantID), a.Hour.Compare(b.Hour), cmp.Compare(a.Metric, b.Metric), cmp.Compare(a.Dim, b.Dim), cmp.Compare(a.Dim2, b.Dim2))
	})
	for _, f := range facts {
		d.Facts = append(d.Facts, *f)
	}
	slices.SortFunc(d.Facts, func(a, b Fact) int {
		return cmp.Or(cmp.Compare(a.TenantID, b.TenantID), cmp.Compare(a.ConversationID, b.ConversationID))
	})
	for t := range tenants {
		d.Tenants = append(d.Tenants, t)
	}
	slices.Sort(d.Tenants)
	return d
}

// NormalizeText returns the text an unrecognized message is counted
// under: lower case, without accents or punctuation at its ends, spaces
// collapsed, at most MaxTextLen runes.
func NormalizeText(s string) string {
	var b strings.Builder
	space := false
	n := 0
	for _, r := range strings.ToLower(s) {
		if n >= MaxTextLen {
			break
		}
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		if f, ok := folds[r]; ok {
			r = f
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimFunc(b.String(), func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSpace(r) })
}

var folds = func() map[rune]rune {
	from, to := []rune("áàâäãåāéèêëēíìîïīóòôöõøōúùûüūñçýÿ"), []rune("aaaaaaaeeeeeiiiiiooooooouuuuuncyy")
	m := make(map[rune]rune, len(from))
	for i, r := range from {
		m[r] = to[i]
	}
	return m
}()

// Events returns the events of rows, for the analytics export: a message
// that opens its conversation is also EventConversationOpened. IDs are
// stable: the same row always gives the same ids.
func Events(rows []Row) []Event {
	var out []Event
	for _, r := range rows {
		e := Event{TenantID: r.TenantID, Name: r.Name, At: r.At.UTC(), ConversationID: r.ConversationID, ContactID: r.ContactID, Channel: r.Channel}
		ref := strconv.FormatInt(r.Ref, 10)
		switch r.Name {
		case EventMessageReceived, EventMessageSent:
			if r.Flag {
				out = append(out, Event{ID: "opened:" + strconv.FormatInt(r.ConversationID, 10), TenantID: r.TenantID, Name: EventConversationOpened,
					At: e.At, ConversationID: r.ConversationID, ContactID: r.ContactID, Channel: r.Channel})
			}
			e.ID = "message:" + ref
			e.Properties = map[string]any{"message_id": r.Ref, "author": r.Key}
			if r.AgentID != 0 {
				e.Properties["agent_id"] = r.AgentID
			}
		case EventHandedOff:
			e.ID = "handoff:" + ref
			e.Properties = map[string]any{"reason": r.Key, "intent": r.Detail, "queue_id": r.QueueID}
		case EventAssigned:
			e.ID = "assigned:" + ref
			e.Properties = map[string]any{"queue_id": r.QueueID, "agent_id": r.AgentID}
		case EventConversationClosed:
			e.ID = "closed:" + ref + ":" + strconv.FormatInt(r.At.UnixMicro(), 10)
			e.Properties = map[string]any{"contained": r.Flag}
		case EventIntentRecognized:
			e.ID = "intent:" + ref
			e.Properties = map[string]any{"message_id": r.Ref, "intent": r.Key, "confidence": r.Score}
		case EventMessageUnrecognized:
			e.ID = "unrecognized:" + ref
			e.Properties = map[string]any{"message_id": r.Ref, "text": NormalizeText(r.Key)}
		case EventMessageFailed:
			e.ID = "failed:" + ref
			e.Properties = map[string]any{"message_id": r.Ref, "code": r.Key}
		case EventCaseFiled:
			e.ID = "case:" + ref
			e.Properties = map[string]any{"case_id": r.Ref, "type": r.Key}
		default:
			e.ID = r.Name + ":" + ref
		}
		out = append(out, e)
	}
	return out
}

// RollupOptions tune one Rollup.
type RollupOptions struct {
	// Batch is the most messages, and the most outbox rows, folded.
	Batch int
	// Stale is how long a gap below newer committed message ids is waited
	// for before it is passed (and remembered for GapTTL); 0 passes gaps
	// at once.
	Stale time.Duration
	// GapTTL is how long a passed gap is re-checked.
	GapTTL time.Duration
	// Now is the rollup's clock.
	Now time.Time
}

// Defaults of RollupOptions.
const (
	DefaultBatch  = 5000
	DefaultStale  = 3 * time.Second
	DefaultGapTTL = time.Hour
)

// RollupResult is what a Rollup folded.
type RollupResult struct {
	// Rows counts the messages and outbox rows folded.
	Rows int
	// More says a batch was full: there may be more to fold now.
	More bool
	// Tenants are the tenants whose aggregates changed.
	Tenants []int64
	// Jobs counts the export jobs enqueued.
	Jobs int
}

// TimingQuery selects the durations of Timings.
type TimingQuery struct {
	TenantID int64
	// Kind is TimingFirstResponse or TimingResolution.
	Kind     string
	From, To time.Time
	// Scope, when set, keeps the conversations of its queues or agents.
	Scope *Scope
}

// Timing kinds.
const (
	// TimingFirstResponse is from the handoff (or the opening, when the
	// conversation was never queued) to the first agent reply.
	TimingFirstResponse = "first_response"
	// TimingResolution is from the opening to the close.
	TimingResolution = "resolution"
)

// Scope is what a supervisor's teams handle: their queues and agents.
type Scope struct {
	Teams  []int64
	Queues []int64
	Agents []int64
}

// Directory is a tenant's teams, queues and agents.
type Directory struct {
	Teams  []Named
	Queues []Named // TeamID set
	Agents []Named // Teams set
}

// Named is a team, queue or agent.
type Named struct {
	ID     int64
	Name   string
	TeamID int64
	Teams  []int64
}

// Sample is one duration of a Timings dimension, for stores that compute
// percentiles in Go.
type Sample struct {
	Channel string
	QueueID int64
	AgentID int64
	D       time.Duration
}

// TimingsOf computes the timings of samples: "all", then by channel,
// queue (not 0) and agent (not 0), each by key.
func TimingsOf(samples []Sample) []Timing {
	groups := map[[2]string][]time.Duration{}
	var order [][2]string
	add := func(dim, key string, d time.Duration) {
		k := [2]string{dim, key}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], d)
	}
	for _, s := range samples {
		add("all", "", s.D)
		add("channel", s.Channel, s.D)
		if s.QueueID != 0 {
			add("queue", strconv.FormatInt(s.QueueID, 10), s.D)
		}
		if s.AgentID != 0 {
			add("agent", strconv.FormatInt(s.AgentID, 10), s.D)
		}
	}
	out := make([]Timing, 0, len(order))
	for _, k := range order {
		ds := groups[k]
		slices.Sort(ds)
		out = append(out, Timing{Dimension: k[0], Key: k[1], Count: int64(len(ds)), Median: PercentileDisc(ds, 0.5), P90: PercentileDisc(ds, 0.9)})
	}
	SortTimings(out)
	return out
}

// SortTimings orders timings: "all" first, then channel, queue and agent;
// channels by name, queues and agents by id.
func SortTimings(ts []Timing) {
	rank := map[string]int{"all": 0, "channel": 1, "queue": 2, "agent": 3}
	slices.SortFunc(ts, func(a, b Timing) int {
		if c := cmp.Compare(rank[a.Dimension], rank[b.Dimension]); c != 0 {
			return c
		}
		if a.Dimension == "channel" {
			return cmp.Compare(a.Key, b.Key)
		}
		return cmp.Compare(atoi(a.Key), atoi(b.Key))
	})
}

// PercentileDisc returns the discrete percentile p of sorted durations, as
// PostgreSQL's percentile_disc: the first value whose position in the
// order reaches p of them.
func PercentileDisc(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	for i, d := range sorted {
		if float64(i+1)/float64(len(sorted)) >= p {
			return d
		}
	}
	return sorted[len(sorted)-1]
}

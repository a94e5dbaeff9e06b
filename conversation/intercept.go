package conversation

import (
	"context"
	"fmt"
	"strconv"
)

// Interceptor looks at a contact's inbound message before the bot does, in
// any open state of the conversation, and may take it: the answer to a
// question the system asked outside the dialogue, such as the satisfaction
// survey after a case is resolved (handoff implements it). The route job
// runs interceptors in order, before the bot; the first that handles a
// message ends its routing.
type Interceptor interface {
	// Intercept returns handled true when the message was its to take; the
	// bot then does not see it, and the replies, if any, are sent to the
	// contact on the account the message came from. It returns handled
	// false, and no error, for a message that is not its. It must be
	// idempotent for one message, since a route job may run again: a
	// second call for t.Message returns what the first did. It must be safe
	// for concurrent use.
	Intercept(ctx context.Context, t Turn) (handled bool, replies [][]Part, err error)
}

// ReplyMetaInterceptor is an Interceptor whose replies carry Meta, such as
// MetaKeywordReply on the confirmation of an opt-out, which must reach the
// contact who just opted out of the account's messages.
type ReplyMetaInterceptor interface {
	Interceptor
	// ReplyMeta returns the Meta of the replies Intercept returned for t,
	// nil for none. It must be safe for concurrent use.
	ReplyMeta(t Turn) map[string]string
}

// intercept offers the message of t to the interceptors and sends the
// replies of the one that takes it. It reports whether one did.
func (s *Service) intercept(ctx context.Context, t Turn) (bool, error) {
	for i, ic := range s.interceptors {
		handled, replies, err := ic.Intercept(ctx, t)
		if err != nil {
			return false, fmt.Errorf("interceptor %d: %w", i, err)
		}
		if !handled {
			continue
		}
		var meta map[string]string
		if rm, ok := ic.(ReplyMetaInterceptor); ok {
			meta = rm.ReplyMeta(t)
		}
		outs := make([]Outbound, 0, len(replies))
		for n, parts := range replies {
			outs = append(outs, Outbound{
				TenantID: t.Tenant.ID, ConversationID: t.Conversation.ID, Author: Author{Kind: AuthorSystem}, Parts: parts,
				AccountID: t.Message.ChannelAccountID, IdempotencyKey: "intercept:" + strconv.FormatInt(t.Message.ID, 10) + ":" + strconv.Itoa(n), Meta: meta,
			})
		}
		if _, err := s.Send(ctx, outs...); err != nil {
			if ErrorCode(err) == EINVALID || ErrorCode(err) == ETOOLARGE || ErrorCode(err) == ECONFLICT {
				return true, &JobError{Err: err, Permanent: true}
			}
			return true, err
		}
		return true, nil
	}
	return false, nil
}

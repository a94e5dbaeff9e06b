package console

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"conversa/conversation"
	"conversa/handoff"
)

// item is a conversation handed to agents, as a list shows it.
type item struct {
	Entry   handoff.Entry
	Conv    conversation.Conversation
	Contact conversation.Contact
	Queue   string
}

func (c *Console) items(ctx context.Context, tenantID int64, entries []handoff.Entry, queues []handoff.Queue) ([]item, error) {
	out := make([]item, 0, len(entries))
	for _, e := range entries {
		conv, err := c.deps.Store.Conversation(ctx, tenantID, e.ConversationID)
		if err != nil {
			return nil, err
		}
		contact, err := c.deps.Store.Contact(ctx, tenantID, conv.ContactID)
		if err != nil {
			return nil, err
		}
		it := item{Entry: e, Conv: conv, Contact: contact}
		if i := slices.IndexFunc(queues, func(q handoff.Queue) bool { return q.ID == e.QueueID }); i >= 0 {
			it.Queue = queues[i].Name
		}
		out = append(out, it)
	}
	return out, nil
}

// inbox shows the offers to accept, the agent's conversations and what
// waits in the queues the agent serves.
func (c *Console) inbox(w http.ResponseWriter, r *http.Request, rq *request) error {
	ctx, a := r.Context(), rq.agent
	mine, err := c.deps.Routing.ListEntries(ctx, a.TenantID, 0, a.ID)
	if err != nil {
		return err
	}
	all, err := c.deps.Routing.ListEntries(ctx, a.TenantID, 0, 0)
	if err != nil {
		return err
	}
	queues, err := c.deps.Routing.ListQueues(ctx, a.TenantID)
	if err != nil {
		return err
	}
	var offers, held, waiting []handoff.Entry
	for _, e := range mine {
		if e.State == handoff.EntryOffered {
			offers = append(offers, e)
		} else if e.State == handoff.EntryAssigned {
			held = append(held, e)
		}
	}
	for _, e := range all {
		if e.State != handoff.EntryWaiting {
			continue
		}
		i := slices.IndexFunc(queues, func(q handoff.Queue) bool { return q.ID == e.QueueID })
		if a.Role.Supervises() || (i >= 0 && handoff.Eligible(*a, queues[i])) {
			waiting = append(waiting, e)
		}
	}
	data := map[string]any{}
	for name, list := range map[string][]handoff.Entry{"Offers": offers, "Mine": held, "Waiting": waiting} {
		its, err := c.items(ctx, a.TenantID, list, queues)
		if err != nil {
			return err
		}
		data[name] = its
	}
	c.render(w, rq, http.StatusOK, "inbox", data)
	return nil
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, conversation.Errorf(conversation.ENOTFOUND, "not found")
	}
	return id, nil
}

func formID(r *http.Request, name string) (int64, error) {
	v := strings.TrimSpace(r.PostFormValue(name))
	if v == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 0 {
		return 0, conversation.FieldError(name, "must be a number")
	}
	return id, nil
}

// access says what the agent may do with a conversation: read it (their
// own, offered to them, waiting where they may pick it, or any for a
// supervisor) and answer it (assigned to them, or any open one for a
// supervisor).
func (c *Console) access(ctx context.Context, a *handoff.Agent, conv conversation.Conversation) (entry handoff.Entry, read, answer bool, err error) {
	entry, err = c.deps.Routing.Entry(ctx, a.TenantID, conv.ID)
	if err != nil && !conversation.IsNotFound(err) {
		return entry, false, false, err
	}
	if a.Role.Supervises() {
		return entry, true, conv.State.Open(), nil
	}
	mine := entry.AgentID == a.ID
	read = mine || entry.State == handoff.EntryWaiting
	answer = mine && entry.State == handoff.EntryAssigned && conv.State == conversation.StateAgent
	return entry, read, answer, nil
}

// conversationPage shows a conversation with the contact's messages on
// every channel, the 360 panel and the agent's actions.
func (c *Console) conversationPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	ctx, a := r.Context(), rq.agent
	id, err := pathID(r)
	if err != nil {
		return err
	}
	conv, err := c.deps.Store.Conversation(ctx, a.TenantID, id)
	if err != nil {
		return err
	}
	entry, read, answer, err := c.access(ctx, a, conv)
	if err != nil {
		return err
	}
	if !read {
		return conversation.Errorf(conversation.EFORBIDDEN, "the conversation is not assigned to you")
	}
	view, err := c.deps.Views.ContactView(ctx, a.TenantID, conv.ContactID, conversation.MaxLimit)
	if err != nil {
		return err
	}
	contact := view.Contact
	agents, err := c.deps.Routing.ListAgents(ctx, a.TenantID)
	if err != nil {
		return err
	}
	queues, err := c.deps.Routing.ListQueues(ctx, a.TenantID)
	if err != nil {
		return err
	}
	agents = slices.DeleteFunc(agents, func(x handoff.Agent) bool { return x.ID == a.ID })
	notes, err := c.deps.Console.Notes(ctx, a.TenantID, conv.ID)
	if err != nil {
		return err
	}
	var canned []cannedItem
	if answer {
		list, err := c.deps.Console.ListCanned(ctx, a.TenantID, "", 0)
		if err != nil {
			return err
		}
		tenant, err := c.deps.Store.Tenant(ctx, a.TenantID)
		if err != nil {
			return err
		}
		data := handoff.CannedData{Tenant: tenant, Contact: contact, Conversation: conv, Agent: *a}
		for _, cr := range list {
			canned = append(canned, cannedItem{Shortcut: strings.TrimPrefix(cr.Code, "/"), Title: cr.Title, Text: handoff.RenderCanned(cr.Body, data, handoff.TargetText)})
		}
	}
	attrs := make([][2]string, 0, len(contact.Attributes))
	for k, v := range contact.Attributes {
		attrs = append(attrs, [2]string{k, v})
	}
	slices.SortFunc(attrs, func(x, y [2]string) int { return cmp.Compare(x[0], y[0]) })
	c.render(w, rq, http.StatusOK, "conversation", map[string]any{
		"Conv": conv, "Entry": entry, "Contact": contact, "Attributes": attrs, "Messages": view.Messages, "Past": view.Conversations, "Cases": view.Cases,
		"Answer": answer, "Agents": agents, "Queues": queues, "Notes": notes, "Canned": canned,
		"Offered": entry.State == handoff.EntryOffered && entry.AgentID == a.ID,
		"Waiting": entry.State == handoff.EntryWaiting && entry.ConversationID != 0,
	})
	return nil
}

// conversationFor reads the conversation of the path and checks that the
// agent may answer it.
func (c *Console) conversationFor(r *http.Request, a *handoff.Agent) (conversation.Conversation, error) {
	id, err := pathID(r)
	if err != nil {
		return conversation.Conversation{}, err
	}
	conv, err := c.deps.Store.Conversation(r.Context(), a.TenantID, id)
	if err != nil {
		return conversation.Conversation{}, err
	}
	_, _, answer, err := c.access(r.Context(), a, conv)
	if err != nil {
		return conversation.Conversation{}, err
	}
	if !answer {
		return conversation.Conversation{}, conversation.Errorf(conversation.EFORBIDDEN, "the conversation is not assigned to you")
	}
	return conv, nil
}

const maxReply = 4000

// reply sends the agent's text to the contact on the channel they are on.
func (c *Console) reply(w http.ResponseWriter, r *http.Request, rq *request) error {
	a := rq.agent
	conv, err := c.conversationFor(r, a)
	if err != nil {
		return err
	}
	text := strings.TrimSpace(r.PostFormValue("text"))
	if text == "" || len([]rune(text)) > maxReply {
		return conversation.FieldError("text", "a reply has 1 to %d characters", maxReply)
	}
	out := conversation.Outbound{TenantID: a.TenantID, ConversationID: conv.ID, Author: conversation.Author{Kind: conversation.AuthorAgent, ID: a.ID, Name: a.Name},
		Parts: []conversation.Part{conversation.TextPart(text)}}
	if key := r.PostFormValue("key"); key != "" && len(key) <= 100 {
		out.IdempotencyKey = "console:" + strconv.FormatInt(a.ID, 10) + ":" + key
	}
	if _, err := c.deps.Service.Send(r.Context(), out); err != nil {
		return err
	}
	if err := c.deps.Service.Typing(r.Context(), a.TenantID, conv.ID, conversation.Author{Kind: conversation.AuthorAgent, ID: a.ID, Name: a.Name}, false); err != nil {
		c.log.Warn("typing off after a reply", "err", err)
	}
	return done(w, r, "/console/conversations/"+strconv.FormatInt(conv.ID, 10))
}

func (c *Console) accept(w http.ResponseWriter, r *http.Request, rq *request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	offer, err := formID(r, "offer")
	if err != nil {
		return err
	}
	if _, err := c.deps.Router.Accept(r.Context(), rq.agent.TenantID, rq.agent.ID, id, offer); err != nil {
		return err
	}
	return done(w, r, "/console/conversations/"+strconv.FormatInt(id, 10))
}

func (c *Console) pick(w http.ResponseWriter, r *http.Request, rq *request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if _, err := c.deps.Router.Pick(r.Context(), rq.agent.TenantID, rq.agent.ID, id); err != nil {
		return err
	}
	return done(w, r, "/console/conversations/"+strconv.FormatInt(id, 10))
}

// transfer moves the conversation to an agent or a queue with a note; a
// supervisor reassigns with it too.
func (c *Console) transfer(w http.ResponseWriter, r *http.Request, rq *request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var t handoff.Transfer
	if t.ToAgent, err = formID(r, "agent"); err != nil {
		return err
	}
	if t.ToQueue, err = formID(r, "queue"); err != nil {
		return err
	}
	t.Note = strings.TrimSpace(r.PostFormValue("note"))
	if _, err := c.deps.Router.Transfer(r.Context(), rq.agent.TenantID, rq.agent.ID, id, t); err != nil {
		return err
	}
	if back := r.PostFormValue("back"); back == "supervisor" {
		return done(w, r, "/console/supervisor")
	}
	return done(w, r, "/console/")
}

func (c *Console) closeConversation(w http.ResponseWriter, r *http.Request, rq *request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := c.deps.Router.Close(r.Context(), rq.agent.TenantID, rq.agent.ID, id, r.PostFormValue("disposition"), r.PostFormValue("return_to_bot") != ""); err != nil {
		return err
	}
	return done(w, r, "/console/")
}

func (c *Console) setStatus(w http.ResponseWriter, r *http.Request, rq *request) error {
	if _, err := c.deps.Router.SetStatus(r.Context(), rq.agent.TenantID, rq.agent.ID, handoff.AgentStatus(r.PostFormValue("status"))); err != nil {
		return err
	}
	return done(w, r, safeNext(r.PostFormValue("next")))
}

// channelCount is how many conversations agents hold on a channel.
type channelCount struct {
	Channel conversation.ChannelKind
	Count   int
}

// supervisor shows the queues, the agents and the conversations in
// progress, live.
func (c *Console) supervisor(w http.ResponseWriter, r *http.Request, rq *request) error {
	ctx, tid := r.Context(), rq.agent.TenantID
	queues, err := c.deps.Router.QueueStats(ctx, tid)
	if err != nil {
		return err
	}
	agents, err := c.deps.Router.AgentStats(ctx, tid)
	if err != nil {
		return err
	}
	entries, err := c.deps.Routing.ListEntries(ctx, tid, 0, 0)
	if err != nil {
		return err
	}
	qs, err := c.deps.Routing.ListQueues(ctx, tid)
	if err != nil {
		return err
	}
	its, err := c.items(ctx, tid, entries, qs)
	if err != nil {
		return err
	}
	byChannel := map[conversation.ChannelKind]int{}
	for _, it := range its {
		if it.Entry.State == handoff.EntryAssigned {
			byChannel[it.Conv.Channel]++
		}
	}
	var channels []channelCount
	for k, n := range byChannel {
		channels = append(channels, channelCount{k, n})
	}
	slices.SortFunc(channels, func(a, b channelCount) int { return cmp.Compare(a.Channel, b.Channel) })
	names := map[int64]string{}
	for _, a := range agents {
		names[a.ID] = a.Name
	}
	c.render(w, rq, http.StatusOK, "supervisor", map[string]any{
		"Queues": queues, "Agents": agents, "Channels": channels, "Entries": its, "Names": names, "Now": time.Now(),
	})
	return nil
}

// cannedItem is a canned response ready for the reply box.
type cannedItem struct {
	Shortcut, Title, Text string
}

// addNote adds a private note, for colleagues only, to a conversation the
// agent may read.
func (c *Console) addNote(w http.ResponseWriter, r *http.Request, rq *request) error {
	a := rq.agent
	id, err := pathID(r)
	if err != nil {
		return err
	}
	conv, err := c.deps.Store.Conversation(r.Context(), a.TenantID, id)
	if err != nil {
		return err
	}
	_, read, _, err := c.access(r.Context(), a, conv)
	if err != nil {
		return err
	}
	if !read {
		return conversation.Errorf(conversation.EFORBIDDEN, "the conversation is not assigned to you")
	}
	n := handoff.Note{TenantID: a.TenantID, ConversationID: conv.ID, AgentID: a.ID, Body: r.PostFormValue("body")}
	if err := n.Validate(); err != nil {
		return err
	}
	if _, err := c.deps.Console.CreateNote(r.Context(), n); err != nil {
		return err
	}
	return done(w, r, "/console/conversations/"+strconv.FormatInt(conv.ID, 10))
}

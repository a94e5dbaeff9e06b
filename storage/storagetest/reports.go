// Package storagetest builds, from a store of this module, what contract
// suites of layer-2 packages need from their siblings' stores: a suite in
// reports/reportstest may not import handoff or notify/survey, so the
// stores' own calls for those are handed to it here. Only tests import it.
package storagetest

import (
	"context"
	"strconv"
	"time"

	"conversa/conversation"
	"conversa/handoff"
	"conversa/notify/survey"
	"conversa/reports"
	"conversa/reports/reportstest"
)

// ReportsStore is a store that the reports suite runs against.
type ReportsStore interface {
	conversation.Store
	reports.Store
	handoff.RoutingStore
	handoff.CaseStore
	survey.Store
}

// ReportsWorld returns the reports suite's World over s; destination
// adds an analytics destination (a row of analytics_destinations) to a
// tenant, with the store's own SQL.
func ReportsWorld(s ReportsStore, destination func(ctx context.Context, tenantID int64, disabled bool) error) reportstest.World {
	notification := int64(0)
	return reportstest.World{
		Conv:    s,
		Reports: s,
		Team: func(ctx context.Context, tenantID int64, name string) (int64, error) {
			t, err := s.CreateTeam(ctx, handoff.Team{TenantID: tenantID, Name: name})
			return t.ID, err
		},
		Queue: func(ctx context.Context, tenantID int64, name string, teamID int64) (int64, error) {
			q := handoff.Queue{TenantID: tenantID, Name: name, Strategy: handoff.StrategyLongestIdle, TeamID: teamID}
			if err := q.Validate(); err != nil {
				return 0, err
			}
			q, err := s.CreateQueue(ctx, q)
			return q.ID, err
		},
		Agent: func(ctx context.Context, tenantID int64, name string, teams []int64, at time.Time) (int64, error) {
			a := handoff.Agent{TenantID: tenantID, Name: name, Email: name + "@example.com", Capacity: 5, Teams: teams}
			if err := a.Validate(); err != nil {
				return 0, err
			}
			a, err := s.CreateAgent(ctx, a)
			if err != nil {
				return 0, err
			}
			_, _, err = s.SetAgentStatus(ctx, tenantID, a.ID, handoff.StatusAvailable, at)
			return a.ID, err
		},
		Handoff: func(ctx context.Context, tenantID, conversationID, queueID int64, reason, intent string, at time.Time) error {
			_, _, err := s.Enqueue(ctx, handoff.Entry{TenantID: tenantID, ConversationID: conversationID, QueueID: queueID, EnqueuedAt: at, Reason: reason, Intent: intent})
			return err
		},
		Assign: func(ctx context.Context, tenantID, conversationID, agentID int64, at time.Time) error {
			_, err := s.Claim(ctx, handoff.Claim{TenantID: tenantID, ConversationID: conversationID, AgentID: agentID, From: handoff.EntryWaiting, At: at})
			return err
		},
		Status: func(ctx context.Context, tenantID, agentID int64, status string, at time.Time) error {
			_, _, err := s.SetAgentStatus(ctx, tenantID, agentID, handoff.AgentStatus(status), at)
			return err
		},
		FileCase: func(ctx context.Context, c reportstest.Case) (int64, error) {
			hc := handoff.Case{TenantID: c.TenantID, Type: handoff.CaseType(c.Type), Status: handoff.Radicado, ContactID: c.ContactID,
				ConversationID: c.ConversationID, Channel: c.Channel, TermDays: 15, Due: c.Due, FiledAt: c.FiledAt, TeamID: c.TeamID, AssigneeID: c.AgentID}
			err := s.CreateCase(ctx, &hc, "PQR", handoff.CaseEvent{Kind: "filed", Actor: "system", To: handoff.Radicado, CreatedAt: c.FiledAt})
			return hc.ID, err
		},
		ResolveCase: func(ctx context.Context, tenantID, caseID int64, at time.Time) error {
			c, err := s.Case(ctx, tenantID, caseID)
			if err != nil {
				return err
			}
			from := c.Status
			c.Status = handoff.Resuelto
			return s.UpdateCase(ctx, &c, handoff.CaseEvent{Kind: "status", Actor: "system", From: from, To: handoff.Resuelto, CreatedAt: at})
		},
		Survey: func(ctx context.Context, tenantID int64, kind string, sentAt time.Time, score int) error {
			notification++
			sv, _, err := s.InsertSurvey(ctx, survey.Survey{TenantID: tenantID, ContactID: 1, Kind: survey.Kind(kind), Purpose: kind,
				NotificationID: notification, Status: survey.StatusScheduled, TTL: 72 * time.Hour})
			if err != nil {
				return err
			}
			sv.Status, sv.Channel, sv.SentAt, sv.ExpiresAt = survey.StatusSent, conversation.ChannelWhatsApp, sentAt, sentAt.Add(72*time.Hour)
			if sv, err = s.MarkSurveySent(ctx, sv); err != nil || score < 0 {
				return err
			}
			sv.Score, sv.AnsweredAt, sv.AnswerChannel, sv.AnswerText = score, sentAt.Add(time.Minute), conversation.ChannelWhatsApp, strconv.Itoa(score)
			return s.RecordSurveyAnswer(ctx, sv)
		},
		AddDestination: destination,
	}
}

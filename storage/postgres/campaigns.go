package postgres

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"conversa/conversation"
	"conversa/notify"
	"conversa/notify/campaign"
)

var _ campaign.Store = (*Store)(nil)

const campaignColumns = `id, tenant_id, name, purpose, data::text, source, coalesce(segment::text, ''), throttle::text, status,
	coalesce(import::text, ''), created_at, updated_at`

func scanCampaign(row pgx.Row) (campaign.Campaign, error) {
	var c campaign.Campaign
	var data, segment, throttle, imp string
	if err := row.Scan(&c.ID, &c.TenantID, &c.Name, &c.Purpose, &data, &c.Source, &segment, &throttle, &c.Status,
		&imp, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return c, err
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	if err := decodeJSON(data, &c.Data); err != nil {
		return c, err
	}
	if err := decodeJSON(segment, &c.Segment); err != nil {
		return c, err
	}
	if err := decodeJSON(imp, &c.Import); err != nil {
		return c, err
	}
	return c, decodeJSON(throttle, &c.Throttle)
}

// CreateCampaign implements campaign.Store.
func (s *Store) CreateCampaign(ctx context.Context, c campaign.Campaign) (campaign.Campaign, error) {
	ts := now()
	var segment *string
	if c.Segment != nil {
		v := encodeJSON(c.Segment, "{}")
		segment = &v
	}
	var out campaign.Campaign
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		out, err = scanCampaign(tx.QueryRow(ctx, `INSERT INTO campaigns (tenant_id, name, purpose, data, source, segment, throttle, status, created_at, updated_at)
			VALUES ($1, $2, $3, $4::jsonb, $5, $6::jsonb, $7::jsonb, $8, $9, $9) RETURNING `+campaignColumns,
			c.TenantID, c.Name, c.Purpose, encodeJSON(c.Data, "{}"), c.Source, segment, encodeJSON(c.Throttle, "{}"), campaign.StatusPlanning, ts))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO jobs (tenant_id, kind, ref, key, state, run_at, max_attempts, created_at, updated_at)
			VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $7)`,
			out.TenantID, campaign.JobPlan, out.ID, campaign.PlanJobKey(out.ID), ts.Add(campaign.PlanLease), planMaxAttempts, ts)
		return err
	})
	if isForeignKey(err) {
		return out, conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
	}
	return out, err
}

// planMaxAttempts bounds the planning job's runs: each waits PlanLease
// while the planning it watches goes on.
const planMaxAttempts = 1000

// Campaign implements campaign.Store.
func (s *Store) Campaign(ctx context.Context, tenantID, id int64) (campaign.Campaign, error) {
	c, err := scanCampaign(s.pool.QueryRow(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE id = $1 AND tenant_id = $2`, id, tenantID))
	return c, notFound(err, "campaign")
}

// ListCampaigns implements campaign.Store.
func (s *Store) ListCampaigns(ctx context.Context, tenantID, beforeID int64, limit int) ([]campaign.Campaign, error) {
	if beforeID <= 0 {
		beforeID = 1<<63 - 1
	}
	return queryAll(ctx, s.pool, scanCampaign, `SELECT `+campaignColumns+` FROM campaigns
		WHERE tenant_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`, tenantID, beforeID, conversation.ClampLimit(limit))
}

// SetImport implements campaign.Store.
func (s *Store) SetImport(ctx context.Context, tenantID, id int64, r campaign.ImportReport) error {
	tag, err := s.pool.Exec(ctx, `UPDATE campaigns SET import = $1::jsonb, updated_at = $2 WHERE id = $3 AND tenant_id = $4`,
		encodeJSON(r, "{}"), now(), id, tenantID)
	if err == nil && tag.RowsAffected() == 0 {
		return conversation.Errorf(conversation.ENOTFOUND, "campaign not found")
	}
	return err
}

// SetCampaignStatus implements campaign.Store.
func (s *Store) SetCampaignStatus(ctx context.Context, tenantID, id int64, from []campaign.Status, to campaign.Status, runAt time.Time) (campaign.Campaign, error) {
	var c campaign.Campaign
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		c, err = scanCampaign(tx.QueryRow(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE id = $1 AND tenant_id = $2 FOR UPDATE`, id, tenantID))
		if err != nil {
			return notFound(err, "campaign")
		}
		if !slices.Contains(from, c.Status) {
			return conversation.Errorf(conversation.ECONFLICT, "the campaign is %s", c.Status)
		}
		ts := now()
		planning := c.Status == campaign.StatusPlanning
		if c, err = scanCampaign(tx.QueryRow(ctx, `UPDATE campaigns SET status = $1, updated_at = $2 WHERE id = $3 RETURNING `+campaignColumns,
			to, ts, id)); err != nil {
			return err
		}
		if planning && to != campaign.StatusPlanning {
			if _, err := tx.Exec(ctx, `DELETE FROM campaign_uploads WHERE campaign_id = $1`, id); err != nil {
				return err
			}
		}
		switch to {
		case campaign.StatusRunning:
			_, err = tx.Exec(ctx, `INSERT INTO jobs (tenant_id, kind, ref, key, state, run_at, max_attempts, created_at, updated_at)
				VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $7)
				ON CONFLICT (tenant_id, key) WHERE key IS NOT NULL AND state <> 'failed' DO NOTHING`,
				tenantID, campaign.JobSend, id, campaign.JobKey(id, runAt), micro(runAt), conversation.DeliverMaxAttempts, ts)
		case campaign.StatusCancelled:
			_, err = tx.Exec(ctx, `UPDATE campaign_recipients SET state = 'cancelled', updated_at = $1
				WHERE campaign_id = $2 AND state = 'planned'`, ts, id)
		}
		return err
	})
	return c, err
}

// AddRecipients implements campaign.Store.
func (s *Store) AddRecipients(ctx context.Context, tenantID, campaignID int64, rs []campaign.Recipient) (int, error) {
	if err := s.touchCampaign(ctx, tenantID, campaignID); err != nil {
		return 0, err
	}
	if len(rs) == 0 {
		return 0, nil
	}
	n := len(rs)
	contacts, accounts := make([]int64, n), make([]int64, n)
	channels, addresses, states, codes, reasons := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	dues := make([]time.Time, n)
	for i, r := range rs {
		contacts[i], accounts[i], dues[i] = r.ContactID, r.AccountID, micro(r.Due)
		channels[i], addresses[i], states[i], codes[i], reasons[i] = string(r.Channel), r.Address, r.State, r.Code, r.Reason
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO campaign_recipients (tenant_id, campaign_id, contact_id, channel, account_id, address, due, state, code, reason, updated_at)
		SELECT $1, $2, u.contact, u.channel, u.account, u.address, u.due, u.state, u.code, u.reason, $3
		FROM unnest($4::bigint[], $5::text[], $6::bigint[], $7::text[], $8::timestamptz[], $9::text[], $10::text[], $11::text[])
			AS u(contact, channel, account, address, due, state, code, reason)
		ON CONFLICT (campaign_id, contact_id) DO NOTHING`,
		tenantID, campaignID, now(), contacts, channels, accounts, addresses, dues, states, codes, reasons)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

const recipientColumns = `r.id, r.campaign_id, r.tenant_id, r.contact_id, r.channel, r.account_id, r.address, r.due, r.state, r.code, r.reason, r.notification_id`

func scanRecipient(row pgx.Row) (campaign.Recipient, error) {
	var r campaign.Recipient
	err := row.Scan(&r.ID, &r.CampaignID, &r.TenantID, &r.ContactID, &r.Channel, &r.AccountID, &r.Address, &r.Due, &r.State, &r.Code, &r.Reason, &r.NotificationID)
	r.Due = r.Due.UTC()
	return r, err
}

// NextRecipients implements campaign.Store.
func (s *Store) NextRecipients(ctx context.Context, tenantID, campaignID int64, channel conversation.ChannelKind, limit int) ([]campaign.Recipient, error) {
	return queryAll(ctx, s.pool, scanRecipient, `SELECT `+recipientColumns+` FROM campaign_recipients r
		WHERE r.campaign_id = $1 AND r.tenant_id = $2 AND r.state = 'planned' AND r.channel = $3 ORDER BY r.id LIMIT $4`,
		campaignID, tenantID, channel, max(limit, 0))
}

// PlannedChannels implements campaign.Store.
func (s *Store) PlannedChannels(ctx context.Context, tenantID, campaignID int64) ([]conversation.ChannelKind, error) {
	// One probe per channel kind through the partial index, instead of a
	// DISTINCT over every planned recipient.
	return queryAll(ctx, s.pool, func(row pgx.Row) (conversation.ChannelKind, error) {
		var k conversation.ChannelKind
		return k, row.Scan(&k)
	}, `SELECT k FROM unnest($3::text[]) AS k WHERE EXISTS (SELECT 1 FROM campaign_recipients r
		WHERE r.campaign_id = $1 AND r.tenant_id = $2 AND r.state = 'planned' AND r.channel = k) ORDER BY k`,
		campaignID, tenantID, channelKinds())
}

// channelKinds are the channel kinds a recipient may be planned on.
func channelKinds() []string {
	return []string{string(conversation.ChannelWhatsApp), string(conversation.ChannelSMS), string(conversation.ChannelTelegram),
		string(conversation.ChannelEmail), string(conversation.ChannelWebchat), string(conversation.ChannelVoice), string(conversation.ChannelAPI)}
}

// ReleaseRecipient implements campaign.Store.
func (s *Store) ReleaseRecipient(ctx context.Context, tenantID, id, notificationID int64, reason string) (bool, error) {
	state := campaign.StateQueued
	if reason != "" {
		state = campaign.StateError
	}
	tag, err := s.pool.Exec(ctx, `UPDATE campaign_recipients SET state = $1, notification_id = $2, reason = $3, updated_at = $4
		WHERE id = $5 AND tenant_id = $6 AND state = 'planned'`, state, notificationID, reason, now(), id, tenantID)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// recipientOutcome reads what became of a released recipient r: its
// notification n and message m, and whether the contact wrote after.
const recipientOutcome = `coalesce(n.status, ''), coalesce(m.status, ''), coalesce(m.failure_code, ''),
	coalesce(n.status = 'undeliverable' AND n.skipped::text LIKE '%"opted_out%', false),
	coalesce(n.status = 'sent' AND EXISTS (SELECT 1 FROM messages i WHERE i.tenant_id = r.tenant_id AND i.contact_id = r.contact_id
		AND i.direction = 'in' AND i.created_at > n.sent_at), false)`

const recipientJoins = `campaign_recipients r
	LEFT JOIN notifications n ON n.id = r.notification_id AND n.tenant_id = r.tenant_id
	LEFT JOIN messages m ON m.id = n.message_id AND m.tenant_id = r.tenant_id AND n.message_id <> 0`

// ListRecipients implements campaign.Store.
func (s *Store) ListRecipients(ctx context.Context, tenantID, campaignID int64, f campaign.RecipientFilter) ([]campaign.Recipient, error) {
	where, args := []string{"r.campaign_id = $1", "r.tenant_id = $2", "r.id > $3"}, []any{campaignID, tenantID, f.AfterID}
	if f.State != "" {
		args = append(args, f.State)
		where = append(where, "r.state = $"+strconv.Itoa(len(args)))
	}
	args = append(args, conversation.ClampLimit(f.Limit))
	return queryAll(ctx, s.pool, func(row pgx.Row) (campaign.Recipient, error) {
		var r campaign.Recipient
		err := row.Scan(&r.ID, &r.CampaignID, &r.TenantID, &r.ContactID, &r.Channel, &r.AccountID, &r.Address, &r.Due, &r.State, &r.Code, &r.Reason, &r.NotificationID,
			&r.NotificationStatus, &r.MessageStatus, &r.FailureCode, &r.OptedOut, &r.Replied)
		r.Due = r.Due.UTC()
		return r, err
	}, `SELECT `+recipientColumns+`, `+recipientOutcome+` FROM `+recipientJoins+`
		WHERE `+strings.Join(where, " AND ")+` ORDER BY r.id LIMIT $`+strconv.Itoa(len(args)), args...)
}

// Outcomes implements campaign.Store.
func (s *Store) Outcomes(ctx context.Context, tenantID, campaignID int64) ([]campaign.Outcome, error) {
	return queryAll(ctx, s.pool, func(row pgx.Row) (campaign.Outcome, error) {
		var o campaign.Outcome
		r := &o.Recipient
		err := row.Scan(&r.State, &r.Code, &r.NotificationStatus, &r.MessageStatus, &r.FailureCode, &r.OptedOut, &r.Replied, &o.Count)
		return o, err
	}, `SELECT r.state, r.code, `+recipientOutcome+`, count(*) FROM `+recipientJoins+`
		WHERE r.campaign_id = $1 AND r.tenant_id = $2 GROUP BY 1, 2, 3, 4, 5, 6, 7`, campaignID, tenantID)
}

// SegmentContacts implements campaign.Store.
func (s *Store) SegmentContacts(ctx context.Context, tenantID int64, seg campaign.Segment, afterID int64, limit int) ([]conversation.Contact, error) {
	where, args := []string{"c.tenant_id = $1", "c.id > $2"}, []any{tenantID, afterID}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	if len(seg.Attributes) > 0 {
		add("c.attributes @> $?::jsonb", encodeJSON(seg.Attributes, "{}"))
	}
	if seg.Language != "" {
		add("c.language = $?", seg.Language)
	}
	if len(seg.Channels) > 0 {
		add(`EXISTS (SELECT 1 FROM identities i WHERE i.tenant_id = c.tenant_id AND i.contact_id = c.id AND i.channel = ANY($?::text[]))`, seg.Channels)
	}
	if !seg.SeenAfter.IsZero() {
		add(`EXISTS (SELECT 1 FROM conversations v WHERE v.tenant_id = c.tenant_id AND v.contact_id = c.id AND v.last_message_at >= $?)`, seg.SeenAfter)
	}
	if !seg.SeenBefore.IsZero() {
		add(`NOT EXISTS (SELECT 1 FROM conversations v WHERE v.tenant_id = c.tenant_id AND v.contact_id = c.id AND v.last_message_at >= $?)`, seg.SeenBefore)
	}
	args = append(args, min(max(limit, 1), 5000))
	cs, err := queryAll(ctx, s.pool, scanContact, `SELECT `+contactColumns+` FROM contacts c
		WHERE `+strings.Join(where, " AND ")+` ORDER BY c.id LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, err
	}
	return withIdentities(ctx, s.pool, cs)
}

// ImportContacts implements campaign.Store, in one transaction.
func (s *Store) ImportContacts(ctx context.Context, tenantID int64, cs []campaign.ContactImport) ([]conversation.Contact, error) {
	if len(cs) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(cs))
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var chans, addrs []string
		for _, c := range cs {
			for _, id := range c.Identities {
				chans, addrs = append(chans, string(id.Channel)), append(addrs, id.Address)
			}
		}
		owner := map[conversation.Identity]int64{}
		rows, err := tx.Query(ctx, `SELECT i.channel, i.address, i.contact_id FROM identities i
			JOIN unnest($2::text[], $3::text[]) AS u(channel, address) ON i.channel = u.channel AND i.address = u.address
			WHERE i.tenant_id = $1`, tenantID, chans, addrs)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id conversation.Identity
			var contact int64
			if err := rows.Scan(&id.Channel, &id.Address, &contact); err != nil {
				rows.Close()
				return err
			}
			owner[id] = contact
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		ts := now()
		var newChans, newAddrs []string
		var newContacts []int64
		for i, c := range cs {
			for _, id := range c.Identities {
				if ids[i] = owner[id]; ids[i] != 0 {
					break
				}
			}
			attrs := encodeJSON(c.Attributes, "{}")
			if ids[i] == 0 {
				err = tx.QueryRow(ctx, `INSERT INTO contacts (tenant_id, name, language, attributes, created_at, updated_at)
					VALUES ($1, $2, $3, $4::jsonb, $5, $5) RETURNING id`, tenantID, c.Name, c.Language, attrs, ts).Scan(&ids[i])
			} else if c.Name != "" || c.Language != "" || len(c.Attributes) > 0 {
				_, err = tx.Exec(ctx, `UPDATE contacts SET name = CASE WHEN name = '' THEN $1 ELSE name END,
					language = CASE WHEN language = '' THEN $2 ELSE language END,
					attributes = attributes || $3::jsonb, updated_at = $4 WHERE id = $5 AND tenant_id = $6`,
					c.Name, c.Language, attrs, ts, ids[i], tenantID)
			}
			if err != nil {
				return err
			}
			for _, id := range c.Identities {
				if _, ok := owner[id]; !ok {
					owner[id] = ids[i]
					newChans, newAddrs, newContacts = append(newChans, string(id.Channel)), append(newAddrs, id.Address), append(newContacts, ids[i])
				}
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO identities (tenant_id, channel, address, contact_id, created_at)
			SELECT $1, u.channel, u.address, u.contact, $2 FROM unnest($3::text[], $4::text[], $5::bigint[]) AS u(channel, address, contact)
			ON CONFLICT DO NOTHING`, tenantID, ts, newChans, newAddrs, newContacts)
		return err
	})
	if err != nil {
		return nil, err
	}
	found, err := queryAll(ctx, s.pool, scanContact, `SELECT `+contactColumns+` FROM contacts WHERE tenant_id = $1 AND id = ANY($2)`, tenantID, ids)
	if err != nil {
		return nil, err
	}
	if found, err = withIdentities(ctx, s.pool, found); err != nil {
		return nil, err
	}
	byID := make(map[int64]conversation.Contact, len(found))
	for _, c := range found {
		byID[c.ID] = c
	}
	out := make([]conversation.Contact, 0, len(ids))
	for _, id := range ids {
		if c, ok := byID[id]; ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// OptOuts implements campaign.Store.
func (s *Store) OptOuts(ctx context.Context, tenantID int64, purpose string) ([]notify.OptOut, error) {
	out, err := queryAll(ctx, s.pool, func(row pgx.Row) (notify.OptOut, error) {
		var o notify.OptOut
		return o, row.Scan(&o.AccountID, &o.Address, &o.Purpose)
	}, `SELECT account_id, address, purpose FROM (
			SELECT DISTINCT ON (account_id, address, purpose) account_id, address, purpose, opted_out FROM consent_changes
			WHERE tenant_id = $1 AND purpose IN ('', $2) ORDER BY account_id, address, purpose, id DESC) latest
		WHERE opted_out`, tenantID, purpose)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return out, err
}

// touchCampaign sets a campaign's UpdatedAt: planning's heartbeat.
func (s *Store) touchCampaign(ctx context.Context, tenantID, id int64) error {
	tag, err := s.pool.Exec(ctx, `UPDATE campaigns SET updated_at = $1 WHERE id = $2 AND tenant_id = $3`, now(), id, tenantID)
	if err == nil && tag.RowsAffected() == 0 {
		return conversation.Errorf(conversation.ENOTFOUND, "campaign not found")
	}
	return err
}

// LastRecipientContact implements campaign.Store.
func (s *Store) LastRecipientContact(ctx context.Context, tenantID, campaignID int64) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(contact_id), 0) FROM campaign_recipients WHERE campaign_id = $1 AND tenant_id = $2`,
		campaignID, tenantID).Scan(&id)
	return id, err
}

// PutUpload implements campaign.Store.
func (s *Store) PutUpload(ctx context.Context, tenantID, campaignID int64, seq int, piece []byte) error {
	if piece == nil {
		piece = []byte{} // not NULL: the end
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE campaigns SET updated_at = $1 WHERE id = $2 AND tenant_id = $3`, now(), campaignID, tenantID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return conversation.Errorf(conversation.ENOTFOUND, "campaign not found")
		}
		_, err = tx.Exec(ctx, `INSERT INTO campaign_uploads (campaign_id, seq, piece) VALUES ($1, $2, $3)
			ON CONFLICT (campaign_id, seq) DO UPDATE SET piece = excluded.piece`, campaignID, seq, piece)
		return err
	})
}

// UploadPiece implements campaign.Store.
func (s *Store) UploadPiece(ctx context.Context, tenantID, campaignID int64, seq int) ([]byte, error) {
	var piece []byte
	err := s.pool.QueryRow(ctx, `SELECT u.piece FROM campaign_uploads u JOIN campaigns c ON c.id = u.campaign_id
		WHERE u.campaign_id = $1 AND c.tenant_id = $2 AND u.seq = $3`, campaignID, tenantID, seq).Scan(&piece)
	return piece, notFound(err, "upload piece")
}

// SetPlanCursor implements campaign.Store.
func (s *Store) SetPlanCursor(ctx context.Context, tenantID, campaignID int64, line int) error {
	tag, err := s.pool.Exec(ctx, `UPDATE campaigns SET plan_cursor = $1, updated_at = $2 WHERE id = $3 AND tenant_id = $4`, line, now(), campaignID, tenantID)
	if err == nil && tag.RowsAffected() == 0 {
		return conversation.Errorf(conversation.ENOTFOUND, "campaign not found")
	}
	return err
}

// PlanCursor implements campaign.Store.
func (s *Store) PlanCursor(ctx context.Context, tenantID, campaignID int64) (int, error) {
	var line int
	err := s.pool.QueryRow(ctx, `SELECT plan_cursor FROM campaigns WHERE id = $1 AND tenant_id = $2`, campaignID, tenantID).Scan(&line)
	return line, notFound(err, "campaign")
}

// ReleaseRecipients implements campaign.Store: one UPDATE of all.
func (s *Store) ReleaseRecipients(ctx context.Context, tenantID int64, rs []campaign.Release) (int, error) {
	if len(rs) == 0 {
		return 0, nil
	}
	ids, notifications, states, reasons := make([]int64, len(rs)), make([]int64, len(rs)), make([]string, len(rs)), make([]string, len(rs))
	for i, r := range rs {
		ids[i], notifications[i], reasons[i], states[i] = r.RecipientID, r.NotificationID, r.Reason, string(campaign.StateQueued)
		if r.Reason != "" {
			states[i] = string(campaign.StateError)
		}
	}
	tag, err := s.pool.Exec(ctx, `UPDATE campaign_recipients r SET state = u.x_state, notification_id = u.x_notification, reason = u.x_reason, updated_at = $2
		FROM unnest($3::bigint[], $4::bigint[], $5::text[], $6::text[]) AS u(x_id, x_notification, x_state, x_reason)
		WHERE r.id = u.x_id AND r.tenant_id = $1 AND r.state = 'planned'`, tenantID, now(), ids, notifications, states, reasons)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"conversa/conversation"
	"conversa/notify"
	"conversa/notify/campaign"
)

var _ campaign.Store = (*Store)(nil)

const campaignColumns = `id, tenant_id, name, purpose, data, source, segment, throttle, status, import, created_at, updated_at`

func scanCampaign(row scanner) (campaign.Campaign, error) {
	var c campaign.Campaign
	var data, segment, throttle, imp string
	var created, updated int64
	if err := row.Scan(&c.ID, &c.TenantID, &c.Name, &c.Purpose, &data, &c.Source, &segment, &throttle, &c.Status,
		&imp, &created, &updated); err != nil {
		return c, err
	}
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
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

// planMaxAttempts bounds the planning job's runs: each waits PlanLease
// while the planning it watches goes on.
const planMaxAttempts = 1000

// CreateCampaign implements campaign.Store.
func (s *Store) CreateCampaign(ctx context.Context, c campaign.Campaign) (campaign.Campaign, error) {
	var out campaign.Campaign
	err := s.write(ctx, func(tx *wtx) error {
		ts := micros(now())
		segment := ""
		if c.Segment != nil {
			segment = encodeJSON(c.Segment, "{}")
		}
		var err error
		out, err = scanCampaign(tx.QueryRowContext(ctx, `INSERT INTO campaigns (tenant_id, name, purpose, data, source, segment, throttle, status, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+campaignColumns,
			c.TenantID, c.Name, c.Purpose, encodeJSON(c.Data, "{}"), c.Source, segment, encodeJSON(c.Throttle, "{}"), campaign.StatusPlanning, ts, ts))
		if isForeignKey(err) {
			return conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO jobs (tenant_id, kind, ref, key, state, run_at, max_attempts, created_at, updated_at)
			VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?)`,
			out.TenantID, campaign.JobPlan, out.ID, campaign.PlanJobKey(out.ID), ts+campaign.PlanLease.Microseconds(), planMaxAttempts, ts, ts)
		return err
	})
	return out, err
}

// Campaign implements campaign.Store.
func (s *Store) Campaign(ctx context.Context, tenantID, id int64) (campaign.Campaign, error) {
	c, err := scanCampaign(s.rd.QueryRowContext(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE id = ? AND tenant_id = ?`, id, tenantID))
	return c, notFound(err, "campaign")
}

// ListCampaigns implements campaign.Store.
func (s *Store) ListCampaigns(ctx context.Context, tenantID, beforeID int64, limit int) ([]campaign.Campaign, error) {
	if beforeID <= 0 {
		beforeID = 1<<63 - 1
	}
	return queryAll(ctx, s.rd, scanCampaign, `SELECT `+campaignColumns+` FROM campaigns
		WHERE tenant_id = ? AND id < ? ORDER BY id DESC LIMIT ?`, tenantID, beforeID, conversation.ClampLimit(limit))
}

// SetImport implements campaign.Store.
func (s *Store) SetImport(ctx context.Context, tenantID, id int64, r campaign.ImportReport) error {
	return s.write(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE campaigns SET import = ?, updated_at = ? WHERE id = ? AND tenant_id = ?`,
			encodeJSON(r, "{}"), micros(now()), id, tenantID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return conversation.Errorf(conversation.ENOTFOUND, "campaign not found")
		}
		return nil
	})
}

// SetCampaignStatus implements campaign.Store.
func (s *Store) SetCampaignStatus(ctx context.Context, tenantID, id int64, from []campaign.Status, to campaign.Status, runAt time.Time) (campaign.Campaign, error) {
	var c campaign.Campaign
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		c, err = scanCampaign(tx.QueryRowContext(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE id = ? AND tenant_id = ?`, id, tenantID))
		if err != nil {
			return notFound(err, "campaign")
		}
		if !slices.Contains(from, c.Status) {
			return conversation.Errorf(conversation.ECONFLICT, "the campaign is %s", c.Status)
		}
		ts := micros(now())
		planning := c.Status == campaign.StatusPlanning
		if c, err = scanCampaign(tx.QueryRowContext(ctx, `UPDATE campaigns SET status = ?, updated_at = ? WHERE id = ? RETURNING `+campaignColumns,
			to, ts, id)); err != nil {
			return err
		}
		if planning && to != campaign.StatusPlanning {
			if _, err := tx.ExecContext(ctx, `DELETE FROM campaign_uploads WHERE campaign_id = ?`, id); err != nil {
				return err
			}
		}
		switch to {
		case campaign.StatusRunning:
			_, err = tx.ExecContext(ctx, `INSERT INTO jobs (tenant_id, kind, ref, key, state, run_at, max_attempts, created_at, updated_at)
				VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?)
				ON CONFLICT (tenant_id, key) WHERE key IS NOT NULL AND state <> 'failed' DO NOTHING`,
				tenantID, campaign.JobSend, id, campaign.JobKey(id, runAt), micros(runAt), conversation.DeliverMaxAttempts, ts, ts)
		case campaign.StatusCancelled:
			_, err = tx.ExecContext(ctx, `UPDATE campaign_recipients SET state = 'cancelled', updated_at = ?
				WHERE campaign_id = ? AND state = 'planned'`, ts, id)
		}
		return err
	})
	return c, err
}

// AddRecipients implements campaign.Store.
func (s *Store) AddRecipients(ctx context.Context, tenantID, campaignID int64, rs []campaign.Recipient) (int, error) {
	added := 0
	err := s.write(ctx, func(tx *wtx) error {
		ts := micros(now())
		if err := touchCampaign(ctx, tx, tenantID, campaignID, ts); err != nil {
			return err
		}
		for _, r := range rs {
			res, err := tx.ExecContext(ctx, `INSERT INTO campaign_recipients (tenant_id, campaign_id, contact_id, channel, account_id, address, due, state, code, reason, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (campaign_id, contact_id) DO NOTHING`,
				tenantID, campaignID, r.ContactID, r.Channel, r.AccountID, r.Address, micros(r.Due), r.State, r.Code, r.Reason, ts)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			added += int(n)
		}
		return nil
	})
	return added, err
}

const recipientColumns = `r.id, r.campaign_id, r.tenant_id, r.contact_id, r.channel, r.account_id, r.address, r.due, r.state, r.code, r.reason, r.notification_id`

func scanRecipient(row scanner) (campaign.Recipient, error) {
	var r campaign.Recipient
	var due int64
	err := row.Scan(&r.ID, &r.CampaignID, &r.TenantID, &r.ContactID, &r.Channel, &r.AccountID, &r.Address, &due, &r.State, &r.Code, &r.Reason, &r.NotificationID)
	r.Due = fromMicros(due)
	return r, err
}

// NextRecipients implements campaign.Store.
func (s *Store) NextRecipients(ctx context.Context, tenantID, campaignID int64, channel conversation.ChannelKind, limit int) ([]campaign.Recipient, error) {
	return queryAll(ctx, s.rd, scanRecipient, `SELECT `+recipientColumns+` FROM campaign_recipients r
		WHERE r.campaign_id = ? AND r.tenant_id = ? AND r.state = 'planned' AND r.channel = ? ORDER BY r.id LIMIT ?`,
		campaignID, tenantID, channel, max(limit, 0))
}

// PlannedChannels implements campaign.Store.
func (s *Store) PlannedChannels(ctx context.Context, tenantID, campaignID int64) ([]conversation.ChannelKind, error) {
	var out []conversation.ChannelKind
	for _, k := range []conversation.ChannelKind{conversation.ChannelWhatsApp, conversation.ChannelSMS, conversation.ChannelTelegram,
		conversation.ChannelEmail, conversation.ChannelWebchat, conversation.ChannelVoice, conversation.ChannelAPI} {
		var one int
		err := s.rd.QueryRowContext(ctx, `SELECT 1 FROM campaign_recipients
			WHERE campaign_id = ? AND tenant_id = ? AND state = 'planned' AND channel = ? LIMIT 1`, campaignID, tenantID, k).Scan(&one)
		switch {
		case err == nil:
			out = append(out, k)
		case !errors.Is(err, sql.ErrNoRows):
			return nil, err
		}
	}
	slices.Sort(out)
	return out, nil
}

// ReleaseRecipient implements campaign.Store.
func (s *Store) ReleaseRecipient(ctx context.Context, tenantID, id, notificationID int64, reason string) (bool, error) {
	state := campaign.StateQueued
	if reason != "" {
		state = campaign.StateError
	}
	var n int64
	err := s.write(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE campaign_recipients SET state = ?, notification_id = ?, reason = ?, updated_at = ?
			WHERE id = ? AND tenant_id = ? AND state = 'planned'`, state, notificationID, reason, micros(now()), id, tenantID)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n == 1, err
}

// recipientOutcome reads what became of a released recipient r: its
// notification n and message m, and whether the contact wrote after.
const recipientOutcome = `coalesce(n.status, ''), coalesce(m.status, ''), coalesce(m.failure_code, ''),
	coalesce(n.status = 'undeliverable' AND n.skipped LIKE '%"opted_out%', 0),
	coalesce(n.status = 'sent' AND EXISTS (SELECT 1 FROM messages i WHERE i.tenant_id = r.tenant_id AND i.contact_id = r.contact_id
		AND i.direction = 'in' AND i.created_at > n.sent_at), 0)`

const recipientJoins = `campaign_recipients r
	LEFT JOIN notifications n ON n.id = r.notification_id AND n.tenant_id = r.tenant_id
	LEFT JOIN messages m ON m.id = n.message_id AND m.tenant_id = r.tenant_id AND n.message_id <> 0`

// ListRecipients implements campaign.Store.
func (s *Store) ListRecipients(ctx context.Context, tenantID, campaignID int64, f campaign.RecipientFilter) ([]campaign.Recipient, error) {
	where, args := []string{"r.campaign_id = ?", "r.tenant_id = ?", "r.id > ?"}, []any{campaignID, tenantID, f.AfterID}
	if f.State != "" {
		where, args = append(where, "r.state = ?"), append(args, f.State)
	}
	args = append(args, conversation.ClampLimit(f.Limit))
	return queryAll(ctx, s.rd, func(row scanner) (campaign.Recipient, error) {
		var r campaign.Recipient
		var due int64
		err := row.Scan(&r.ID, &r.CampaignID, &r.TenantID, &r.ContactID, &r.Channel, &r.AccountID, &r.Address, &due, &r.State, &r.Code, &r.Reason, &r.NotificationID,
			&r.NotificationStatus, &r.MessageStatus, &r.FailureCode, &r.OptedOut, &r.Replied)
		r.Due = fromMicros(due)
		return r, err
	}, `SELECT `+recipientColumns+`, `+recipientOutcome+` FROM `+recipientJoins+`
		WHERE `+strings.Join(where, " AND ")+` ORDER BY r.id LIMIT ?`, args...)
}

// Outcomes implements campaign.Store.
func (s *Store) Outcomes(ctx context.Context, tenantID, campaignID int64) ([]campaign.Outcome, error) {
	return queryAll(ctx, s.rd, func(row scanner) (campaign.Outcome, error) {
		var o campaign.Outcome
		r := &o.Recipient
		err := row.Scan(&r.State, &r.Code, &r.NotificationStatus, &r.MessageStatus, &r.FailureCode, &r.OptedOut, &r.Replied, &o.Count)
		return o, err
	}, `SELECT r.state, r.code, `+recipientOutcome+`, count(*) FROM `+recipientJoins+`
		WHERE r.campaign_id = ? AND r.tenant_id = ? GROUP BY 1, 2, 3, 4, 5, 6, 7`, campaignID, tenantID)
}

// SegmentContacts implements campaign.Store.
func (s *Store) SegmentContacts(ctx context.Context, tenantID int64, seg campaign.Segment, afterID int64, limit int) ([]conversation.Contact, error) {
	where, args := []string{"c.tenant_id = ?", "c.id > ?"}, []any{tenantID, afterID}
	for _, k := range slices.Sorted(maps.Keys(seg.Attributes)) {
		where = append(where, `EXISTS (SELECT 1 FROM json_each(c.attributes) a WHERE a.key = ? AND a.value = ?)`)
		args = append(args, k, seg.Attributes[k])
	}
	if seg.Language != "" {
		where, args = append(where, "c.language = ?"), append(args, seg.Language)
	}
	if len(seg.Channels) > 0 {
		where = append(where, `EXISTS (SELECT 1 FROM identities i WHERE i.tenant_id = c.tenant_id AND i.contact_id = c.id AND i.channel IN (`+placeholders(len(seg.Channels))+`))`)
		for _, k := range seg.Channels {
			args = append(args, k)
		}
	}
	if !seg.SeenAfter.IsZero() {
		where = append(where, `EXISTS (SELECT 1 FROM conversations v WHERE v.tenant_id = c.tenant_id AND v.contact_id = c.id AND v.last_message_at >= ?)`)
		args = append(args, micros(seg.SeenAfter))
	}
	if !seg.SeenBefore.IsZero() {
		where = append(where, `NOT EXISTS (SELECT 1 FROM conversations v WHERE v.tenant_id = c.tenant_id AND v.contact_id = c.id AND v.last_message_at >= ?)`)
		args = append(args, micros(seg.SeenBefore))
	}
	args = append(args, min(max(limit, 1), 5000))
	cs, err := queryAll(ctx, s.rd, scanContact, `SELECT c.id, c.tenant_id, c.name, c.language, c.attributes, c.created_at, c.updated_at FROM contacts c
		WHERE `+strings.Join(where, " AND ")+` ORDER BY c.id LIMIT ?`, args...)
	if err != nil {
		return nil, err
	}
	return withIdentities(ctx, s.rd, cs)
}

// ImportContacts implements campaign.Store, in one transaction.
func (s *Store) ImportContacts(ctx context.Context, tenantID int64, cs []campaign.ContactImport) ([]conversation.Contact, error) {
	if len(cs) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(cs))
	err := s.write(ctx, func(tx *wtx) error {
		ts := micros(now())
		owner := map[conversation.Identity]int64{}
		for i, c := range cs {
			ids[i] = 0
			for _, id := range c.Identities {
				if ids[i] != 0 {
					break
				}
				if ids[i] = owner[id]; ids[i] != 0 {
					break
				}
				err := tx.QueryRowContext(ctx, `SELECT contact_id FROM identities WHERE tenant_id = ? AND channel = ? AND address = ?`,
					tenantID, id.Channel, id.Address).Scan(&ids[i])
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return err
				}
			}
			var err error
			attrs := encodeJSON(c.Attributes, "{}")
			if ids[i] == 0 {
				err = tx.QueryRowContext(ctx, `INSERT INTO contacts (tenant_id, name, language, attributes, created_at, updated_at)
					VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, tenantID, c.Name, c.Language, attrs, ts, ts).Scan(&ids[i])
			} else if c.Name != "" || c.Language != "" || len(c.Attributes) > 0 {
				_, err = tx.ExecContext(ctx, `UPDATE contacts SET name = CASE WHEN name = '' THEN ? ELSE name END,
					language = CASE WHEN language = '' THEN ? ELSE language END,
					attributes = json_patch(attributes, ?), updated_at = ? WHERE id = ? AND tenant_id = ?`,
					c.Name, c.Language, attrs, ts, ids[i], tenantID)
			}
			if err != nil {
				return err
			}
			for _, id := range c.Identities {
				if _, err := tx.ExecContext(ctx, `INSERT INTO identities (tenant_id, channel, address, contact_id, created_at)
					VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, tenantID, id.Channel, id.Address, ids[i], ts); err != nil {
					return err
				}
				if _, ok := owner[id]; !ok {
					owner[id] = ids[i]
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]conversation.Contact, 0, len(ids))
	byID := map[int64]conversation.Contact{}
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		found, err := queryAll(ctx, s.rd, scanContact, `SELECT `+contactColumns+` FROM contacts WHERE tenant_id = ? AND id IN `+inJSON, tenantID, jsonArray(chunk))
		if err != nil {
			return nil, err
		}
		if found, err = withIdentities(ctx, s.rd, found); err != nil {
			return nil, err
		}
		for _, c := range found {
			byID[c.ID] = c
		}
	}
	for _, id := range ids {
		if c, ok := byID[id]; ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// OptOuts implements campaign.Store.
func (s *Store) OptOuts(ctx context.Context, tenantID int64, purpose string) ([]notify.OptOut, error) {
	return queryAll(ctx, s.rd, func(row scanner) (notify.OptOut, error) {
		var o notify.OptOut
		return o, row.Scan(&o.AccountID, &o.Address, &o.Purpose)
	}, `SELECT c.account_id, c.address, c.purpose FROM consent_changes c
		WHERE c.tenant_id = ? AND c.purpose IN ('', ?) AND c.opted_out
		AND c.id = (SELECT max(l.id) FROM consent_changes l WHERE l.account_id = c.account_id AND l.address = c.address AND l.purpose = c.purpose)`,
		tenantID, purpose)
}

// touchCampaign sets a campaign's UpdatedAt: planning's heartbeat.
func touchCampaign(ctx context.Context, tx *wtx, tenantID, id, ts int64) error {
	res, err := tx.ExecContext(ctx, `UPDATE campaigns SET updated_at = ? WHERE id = ? AND tenant_id = ?`, ts, id, tenantID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return conversation.Errorf(conversation.ENOTFOUND, "campaign not found")
	}
	return nil
}

// LastRecipientContact implements campaign.Store.
func (s *Store) LastRecipientContact(ctx context.Context, tenantID, campaignID int64) (int64, error) {
	var id int64
	err := s.rd.QueryRowContext(ctx, `SELECT coalesce(max(contact_id), 0) FROM campaign_recipients WHERE campaign_id = ? AND tenant_id = ?`,
		campaignID, tenantID).Scan(&id)
	return id, err
}

// PutUpload implements campaign.Store.
func (s *Store) PutUpload(ctx context.Context, tenantID, campaignID int64, seq int, piece []byte) error {
	return s.write(ctx, func(tx *wtx) error {
		if err := touchCampaign(ctx, tx, tenantID, campaignID, micros(now())); err != nil {
			return err
		}
		if piece == nil {
			piece = []byte{}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO campaign_uploads (campaign_id, seq, piece) VALUES (?, ?, ?)
			ON CONFLICT (campaign_id, seq) DO UPDATE SET piece = excluded.piece`, campaignID, seq, piece)
		return err
	})
}

// UploadPiece implements campaign.Store.
func (s *Store) UploadPiece(ctx context.Context, tenantID, campaignID int64, seq int) ([]byte, error) {
	var piece []byte
	err := s.rd.QueryRowContext(ctx, `SELECT u.piece FROM campaign_uploads u JOIN campaigns c ON c.id = u.campaign_id
		WHERE u.campaign_id = ? AND c.tenant_id = ? AND u.seq = ?`, campaignID, tenantID, seq).Scan(&piece)
	return piece, notFound(err, "upload piece")
}

// SetPlanCursor implements campaign.Store.
func (s *Store) SetPlanCursor(ctx context.Context, tenantID, campaignID int64, line int) error {
	return s.write(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE campaigns SET plan_cursor = ?, updated_at = ? WHERE id = ? AND tenant_id = ?`, line, micros(now()), campaignID, tenantID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return conversation.Errorf(conversation.ENOTFOUND, "campaign not found")
		}
		return nil
	})
}

// PlanCursor implements campaign.Store.
func (s *Store) PlanCursor(ctx context.Context, tenantID, campaignID int64) (int, error) {
	var line int
	err := s.rd.QueryRowContext(ctx, `SELECT plan_cursor FROM campaigns WHERE id = ? AND tenant_id = ?`, campaignID, tenantID).Scan(&line)
	return line, notFound(err, "campaign")
}

// ReleaseRecipients implements campaign.Store in one write transaction.
func (s *Store) ReleaseRecipients(ctx context.Context, tenantID int64, rs []campaign.Release) (int, error) {
	var n int
	err := s.write(ctx, func(tx *wtx) error {
		n = 0
		ts := micros(now())
		for _, r := range rs {
			state := campaign.StateQueued
			if r.Reason != "" {
				state = campaign.StateError
			}
			res, err := tx.ExecContext(ctx, `UPDATE campaign_recipients SET state = ?, notification_id = ?, reason = ?, updated_at = ?
				WHERE id = ? AND tenant_id = ? AND state = 'planned'`, state, r.NotificationID, r.Reason, ts, r.RecipientID, tenantID)
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return nil
	})
	return n, err
}

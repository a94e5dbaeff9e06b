package telegram

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"conversa/channels"
	"conversa/conversation"
)

// Bot API limits on one message.
const (
	maxMessageText  = 4096 // UTF-16 code units
	maxCaption      = 1024
	maxCallbackData = 64 // bytes
)

// Inline 429 retries: Send waits out a retry_after of at most Config.MaxWait
// this many times before it hands the wait to the job queue.
const maxInlineRetries = 3

// call is one Bot API send: it returns the sent message.
type call func(ctx context.Context, b *bot.Bot) (*models.Message, error)

// Send implements channels.Channel. Each part becomes one Telegram message
// (a text longer than Telegram takes becomes several), sent in order and
// paced (see pacer); the receipt names the last one, "<chat id>:<message
// id>", the message whose buttons a callback query refers to.
//
// Refusals are *conversation.DeliveryError: permanent for 400, 401, 403
// (such as "bot was blocked by the user") and 404, and for content
// Telegram cannot take; a 429 carries its retry_after. Any other error (a
// 5xx, a timeout, a network failure) is temporary. When a later part fails,
// a retry sends the earlier parts again: Telegram has no idempotency key.
func (c *Channel) Send(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error) {
	chatID, err := strconv.ParseInt(d.To.Address, 10, 64)
	if err != nil || chatID == 0 {
		return conversation.Receipt{}, &conversation.DeliveryError{Message: fmt.Sprintf("%q is not a Telegram chat id", d.To.Address), Permanent: true}
	}
	b, err := c.botFor(d.Account)
	if err != nil {
		return conversation.Receipt{}, err
	}
	calls, err := c.calls(chatID, d)
	if err != nil {
		return conversation.Receipt{}, err
	}
	rate := c.cfg.BotRate
	if n, err := strconv.Atoi(d.Account.Settings[SettingMessagesPerSecond]); err == nil && n > 0 {
		rate = n
	}
	chatKey := d.Account.Key + ":" + d.To.Address
	var last *models.Message
	for _, send := range calls {
		if last, err = c.sendOne(ctx, b, d.Account.Key, chatKey, rate, send); err != nil {
			return conversation.Receipt{}, err
		}
	}
	r := conversation.Receipt{Status: conversation.StatusSent}
	if last != nil {
		r.ProviderID = d.To.Address + ":" + strconv.Itoa(last.ID)
	}
	return r, nil
}

// sendOne makes one paced call, waiting out short 429s.
func (c *Channel) sendOne(ctx context.Context, b *bot.Bot, botKey, chatKey string, rate int, send call) (*models.Message, error) {
	for attempt := 1; ; attempt++ {
		if err := c.pace.wait(ctx, botKey, chatKey, time.Second/time.Duration(rate), c.cfg.ChatInterval, c.cfg.MaxWait); err != nil {
			return nil, err
		}
		if err := c.sharedTurn(ctx, botKey, chatKey, rate); err != nil {
			return nil, err
		}
		cctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
		m, err := send(cctx, b)
		cancel()
		if err == nil {
			return m, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if tm, ok := errors.AsType[*bot.TooManyRequestsError](err); ok {
			after := max(time.Duration(tm.RetryAfter)*time.Second, time.Second)
			// Nothing goes to this chat before the wait is over, from this
			// send or another.
			c.pace.hold(chatKey, after)
			if after <= c.cfg.MaxWait && attempt < maxInlineRetries {
				continue
			}
			return nil, &conversation.DeliveryError{Code: "429", Message: "too many requests", RetryAfter: after}
		}
		return nil, deliveryError(err)
	}
}

// deliveryError turns a Bot API error into what the core expects.
func deliveryError(err error) error {
	for _, e := range []struct {
		err  error
		code string
	}{
		{bot.ErrorForbidden, "403"}, {bot.ErrorBadRequest, "400"}, {bot.ErrorUnauthorized, "401"}, {bot.ErrorNotFound, "404"},
	} {
		if errors.Is(err, e.err) {
			msg := strings.TrimPrefix(err.Error(), e.err.Error()+", ")
			return &conversation.DeliveryError{Code: e.code, Message: msg, Permanent: true}
		}
	}
	if m, ok := errors.AsType[*bot.MigrateError](err); ok {
		return &conversation.DeliveryError{Code: "400", Message: fmt.Sprintf("the group became the supergroup %d", m.MigrateToChatID), Permanent: true}
	}
	return fmt.Errorf("send telegram message: %w", err)
}

// calls plans the Bot API calls of a delivery.
func (c *Channel) calls(chatID int64, d conversation.Delivery) ([]call, error) {
	markdown := d.Account.Settings[SettingFormat] == FormatMarkdown
	var out []call
	text := func(s string, markup models.ReplyMarkup) {
		chunks := splitText(s, maxMessageText)
		for i, chunk := range chunks {
			p := &bot.SendMessageParams{ChatID: chatID, Text: chunk}
			if markdown {
				p.Text, p.ParseMode = markdownV2(chunk), models.ParseModeMarkdown
			}
			if i == len(chunks)-1 {
				p.ReplyMarkup = markup
			}
			out = append(out, func(ctx context.Context, b *bot.Bot) (*models.Message, error) { return b.SendMessage(ctx, p) })
		}
	}
	caption := func(s string) (string, models.ParseMode, string) {
		if len(utf16.Encode([]rune(s))) > maxCaption {
			return "", "", s // too long for a caption: sent as a text after the file
		}
		if markdown {
			return markdownV2(s), models.ParseModeMarkdown, ""
		}
		return s, "", ""
	}
	for i, p := range d.Message.Parts {
		switch p.Type {
		case conversation.PartText:
			text(p.Text, nil)
		case conversation.PartButtons:
			kb, err := keyboard(p.Buttons)
			if err != nil {
				return nil, err
			}
			prompt := p.Text
			if prompt == "" {
				prompt = "👇"
			}
			text(prompt, kb)
		case conversation.PartMedia:
			if p.Media == nil {
				return nil, &conversation.DeliveryError{Message: fmt.Sprintf("part %d has no media", i), Permanent: true}
			}
			capt, mode, rest := caption(p.Text)
			send, err := c.mediaCall(chatID, d.Message.TenantID, *p.Media, capt, mode)
			if err != nil {
				return nil, err
			}
			out = append(out, send)
			if rest != "" {
				text(rest, nil)
			}
		case conversation.PartLocation:
			l := p.Location
			if l == nil {
				return nil, &conversation.DeliveryError{Message: fmt.Sprintf("part %d has no location", i), Permanent: true}
			}
			if l.Name != "" || l.Address != "" {
				v := &bot.SendVenueParams{ChatID: chatID, Latitude: l.Latitude, Longitude: l.Longitude, Title: orDefault(l.Name, l.Address), Address: orDefault(l.Address, l.Name)}
				out = append(out, func(ctx context.Context, b *bot.Bot) (*models.Message, error) { return b.SendVenue(ctx, v) })
			} else {
				v := &bot.SendLocationParams{ChatID: chatID, Latitude: l.Latitude, Longitude: l.Longitude}
				out = append(out, func(ctx context.Context, b *bot.Bot) (*models.Message, error) { return b.SendLocation(ctx, v) })
			}
			if p.Text != "" {
				text(p.Text, nil)
			}
		case conversation.PartContact:
			ct := p.Contact
			if ct == nil {
				return nil, &conversation.DeliveryError{Message: fmt.Sprintf("part %d has no contact", i), Permanent: true}
			}
			if len(ct.Phones) > 0 {
				v := &bot.SendContactParams{ChatID: chatID, PhoneNumber: ct.Phones[0], FirstName: orDefault(ct.Name, ct.Phones[0])}
				out = append(out, func(ctx context.Context, b *bot.Bot) (*models.Message, error) { return b.SendContact(ctx, v) })
			} else {
				text(strings.TrimSpace(ct.Name+"\n"+strings.Join(ct.Emails, "\n")), nil)
			}
		default:
			return nil, &conversation.DeliveryError{Message: fmt.Sprintf("part %d: Telegram cannot send parts of type %q", i, p.Type), Permanent: true}
		}
	}
	if len(out) == 0 {
		return nil, &conversation.DeliveryError{Message: "nothing to send", Permanent: true}
	}
	return out, nil
}

// inlineKeyboard is the Bot API's InlineKeyboardMarkup with callback
// buttons only. go-telegram's own type (v1.19.0) also sends an empty
// copy_text on every button, which makes a button of two kinds.
type inlineKeyboard struct {
	InlineKeyboard [][]inlineButton `json:"inline_keyboard"`
}

type inlineButton struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data"`
}

// keyboard is an inline keyboard of one button per row, whose
// callback_data is the button's id.
func keyboard(bs []conversation.Button) (*inlineKeyboard, error) {
	kb := &inlineKeyboard{}
	for _, b := range bs {
		if b.ID == "" || len(b.ID) > maxCallbackData {
			return nil, &conversation.DeliveryError{Code: "button_id",
				Message: fmt.Sprintf("button %q: Telegram takes button ids of 1 to %d bytes", b.Title, maxCallbackData), Permanent: true}
		}
		kb.InlineKeyboard = append(kb.InlineKeyboard, []inlineButton{{Text: b.Title, CallbackData: b.ID}})
	}
	return kb, nil
}

// mediaCall sends a file by its URL, which Telegram fetches, or uploads it
// from the media store. Pictures go as photos, MP3 and M4A as audio, Ogg as
// a voice note, MP4 as video, anything else as a document.
func (c *Channel) mediaCall(chatID, tenantID int64, m conversation.Media, caption string, mode models.ParseMode) (call, error) {
	var file func(ctx context.Context) (models.InputFile, func(), error)
	switch {
	case m.URL != "":
		file = func(context.Context) (models.InputFile, func(), error) {
			return &models.InputFileString{Data: m.URL}, func() {}, nil
		}
	case m.Key != "":
		file = func(ctx context.Context) (models.InputFile, func(), error) {
			r, err := c.deps.Media.Open(ctx, tenantID, m.Key)
			if err != nil {
				if conversation.IsNotFound(err) {
					return nil, nil, &conversation.DeliveryError{Message: "the file is not in the media store", Permanent: true}
				}
				return nil, nil, fmt.Errorf("open stored file: %w", err)
			}
			return &models.InputFileUpload{Filename: orDefault(m.Filename, "file"), Data: r}, func() { r.Close() }, nil
		}
	default:
		return nil, &conversation.DeliveryError{Message: "the media has neither a URL nor a stored file", Permanent: true}
	}
	ct := m.ContentType
	return func(ctx context.Context, b *bot.Bot) (*models.Message, error) {
		f, done, err := file(ctx)
		if err != nil {
			return nil, err
		}
		defer done()
		switch {
		case ct == "image/jpeg" || ct == "image/png" || ct == "image/webp":
			return b.SendPhoto(ctx, &bot.SendPhotoParams{ChatID: chatID, Photo: f, Caption: caption, ParseMode: mode})
		case ct == "audio/mpeg" || ct == "audio/mp4" || ct == "audio/mp3":
			return b.SendAudio(ctx, &bot.SendAudioParams{ChatID: chatID, Audio: f, Caption: caption, ParseMode: mode})
		case ct == "audio/ogg" || ct == "audio/opus":
			return b.SendVoice(ctx, &bot.SendVoiceParams{ChatID: chatID, Voice: f, Caption: caption, ParseMode: mode})
		case ct == "video/mp4":
			return b.SendVideo(ctx, &bot.SendVideoParams{ChatID: chatID, Video: f, Caption: caption, ParseMode: mode})
		}
		return b.SendDocument(ctx, &bot.SendDocumentParams{ChatID: chatID, Document: f, Caption: caption, ParseMode: mode})
	}, nil
}

// splitText cuts s into pieces of at most max UTF-16 code units (as
// Telegram counts), at a line break or space when there is one in the
// second half of a piece.
func splitText(s string, max int) []string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var out []string
	for {
		u := utf16.Encode([]rune(s))
		if len(u) <= max {
			if strings.TrimSpace(s) == "" {
				return out
			}
			return append(out, s)
		}
		head := string(utf16.Decode(u[:max]))
		// A surrogate pair cut in two decodes to U+FFFD: step back.
		if r := u[max-1]; utf16.IsSurrogate(rune(r)) && r < 0xdc00 {
			head = string(utf16.Decode(u[:max-1]))
		}
		cut := len(head)
		if i := strings.LastIndexAny(head, "\n "); i > len(head)/2 {
			cut = i + 1
		}
		if piece := strings.TrimRight(head[:cut], " \n"); piece != "" {
			out = append(out, piece)
		}
		s = s[cut:]
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// sharedTurn takes the send's turn in the windows every node shares, when
// a shared limiter is set: one message per ChatInterval to a chat and rate
// a second to a bot, so that nodes sharing a bot keep to Telegram's limits
// together. A limiter that fails leaves the node's own pace alone.
func (c *Channel) sharedTurn(ctx context.Context, botKey, chatKey string, rate int) error {
	if c.deps.Limiter == nil {
		return nil
	}
	if err := channels.TakeTurn(ctx, c.deps.Limiter, "telegram:chat:"+chatKey, 1, c.cfg.ChatInterval); err != nil {
		return err
	}
	return channels.TakeTurn(ctx, c.deps.Limiter, "telegram:bot:"+botKey, rate, time.Second)
}

package telegram

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"conversa/conversation"
)

// The Bot API's Update and the parts of it Conversa reads
// (core.telegram.org/bots/api#update). Fields the channel does not use are
// left out; unknown fields are ignored, as the API adds fields often.
type wireUpdate struct {
	UpdateID      int64         `json:"update_id"`
	Message       *wireMessage  `json:"message"`
	EditedMessage *wireMessage  `json:"edited_message"`
	CallbackQuery *wireCallback `json:"callback_query"`
}

type wireUser struct {
	ID           int64  `json:"id"`
	IsBot        bool   `json:"is_bot"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name"`
	Username     string `json:"username"`
	LanguageCode string `json:"language_code"`
}

type wireChat struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	Title     string `json:"title"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

type wireFile struct {
	FileID   string `json:"file_id"`
	FileSize int64  `json:"file_size"`
	FileName string `json:"file_name"`
	MimeType string `json:"mime_type"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
}

type wireLocation struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

type wireVenue struct {
	Location wireLocation `json:"location"`
	Title    string       `json:"title"`
	Address  string       `json:"address"`
}

type wireContact struct {
	PhoneNumber string `json:"phone_number"`
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
}

type wireButton struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data"`
}

type wireMessage struct {
	MessageID int64         `json:"message_id"`
	From      *wireUser     `json:"from"`
	Chat      wireChat      `json:"chat"`
	Date      int64         `json:"date"`
	EditDate  int64         `json:"edit_date"`
	Text      string        `json:"text"`
	Caption   string        `json:"caption"`
	Photo     []wireFile    `json:"photo"`
	Voice     *wireFile     `json:"voice"`
	Audio     *wireFile     `json:"audio"`
	Document  *wireFile     `json:"document"`
	Video     *wireFile     `json:"video"`
	VideoNote *wireFile     `json:"video_note"`
	Sticker   *wireFile     `json:"sticker"`
	Location  *wireLocation `json:"location"`
	Venue     *wireVenue    `json:"venue"`
	Contact   *wireContact  `json:"contact"`
	Markup    *struct {
		InlineKeyboard [][]wireButton `json:"inline_keyboard"`
	} `json:"reply_markup"`
}

type wireCallback struct {
	ID      string       `json:"id"`
	From    wireUser     `json:"from"`
	Message *wireMessage `json:"message"`
	Data    string       `json:"data"`
}

// Update kinds Conversa reads; any other is ignored.
const (
	kindMessage  = "message"
	kindEdited   = "edited_message"
	kindCallback = "callback_query"
)

// allowedUpdates are the update kinds asked of Telegram.
var allowedUpdates = []string{kindMessage, kindEdited, kindCallback}

// update is a Telegram update read into the conversation model.
type update struct {
	ID int64 `json:"update_id"`
	// Kind is the update's kind: message, edited_message, callback_query,
	// or the field names of an update of another kind.
	Kind string `json:"kind"`
	// Ignored says why the update is not a message Conversa keeps; the
	// other fields are then empty.
	Ignored string `json:"ignored,omitempty"`
	// Inbound is the message, without its account and with media parts
	// that are not yet downloaded.
	Inbound *conversation.Inbound `json:"inbound,omitempty"`
	// Files are the Telegram file ids of the media parts, by part index.
	Files map[int]string `json:"files,omitempty"`
	// CallbackID is the callback query to answer once it is stored.
	CallbackID string `json:"callback_id,omitempty"`
}

// Bounds on what a parsed update holds, below the core's limits.
const (
	maxText     = 16 << 10
	maxFilename = 200
)

// parseError is a malformed update.
type parseError struct{ msg string }

func (e *parseError) Error() string { return e.msg }

func malformed(format string, args ...any) error {
	return &parseError{msg: fmt.Sprintf(format, args...)}
}

// parseUpdate reads one Update, as Telegram posts it to a webhook or
// returns it from getUpdates. It returns an error for malformed input; an
// update that is well formed but holds nothing Conversa keeps (another
// kind, a sticker, a service message) is returned with Ignored set.
func parseUpdate(data []byte) (update, error) {
	var w wireUpdate
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&w); err != nil {
		return update{}, malformed("decode telegram update: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return update{}, malformed("decode telegram update: data after the update")
	}
	if w.UpdateID <= 0 {
		return update{}, malformed("not a telegram update: no update_id")
	}
	u := update{ID: w.UpdateID}
	var err error
	switch {
	case w.Message != nil:
		u.Kind = kindMessage
		err = u.parseMessage(w.Message)
	case w.EditedMessage != nil:
		u.Kind = kindEdited
		err = u.parseEdit(w.EditedMessage)
	case w.CallbackQuery != nil:
		u.Kind = kindCallback
		err = u.parseCallback(w.CallbackQuery)
	default:
		u.Kind = otherKinds(data)
		u.Ignored = "an update of a kind Conversa does not read"
	}
	if err != nil {
		return update{}, malformed("telegram update %d (%s): %v", w.UpdateID, u.Kind, err)
	}
	return u, nil
}

// otherKinds names the fields of an update besides update_id.
func otherKinds(data []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return "unknown"
	}
	var ks []string
	for k := range m {
		if k != "update_id" {
			ks = append(ks, clean(k, 64))
		}
	}
	slices.Sort(ks)
	if len(ks) == 0 {
		return "empty"
	}
	if len(ks) > 5 {
		ks = append(ks[:5], "...")
	}
	return strings.Join(ks, ",")
}

// common fills what every message-like update has: the chat, the sender's
// name and language, the time.
func (u *update) common(chat wireChat, from *wireUser, date int64) error {
	if chat.ID == 0 {
		return errors.New("no chat id")
	}
	in := &conversation.Inbound{Channel: conversation.ChannelTelegram, From: strconv.FormatInt(chat.ID, 10)}
	switch {
	case chat.Type != "" && chat.Type != "private" && chat.Title != "":
		in.FromName = clean(chat.Title, 4*conversation.MaxNameLength)
	case from != nil:
		in.FromName = fullName(from.FirstName, from.LastName)
	default:
		in.FromName = fullName(chat.FirstName, chat.LastName)
	}
	in.FromName = truncateRunes(in.FromName, conversation.MaxNameLength)
	if from != nil {
		if lang, err := conversation.NormalizeLanguage("language", from.LanguageCode); err == nil {
			in.Language = lang
		}
	}
	in.ReceivedAt = unixTime(date)
	u.Inbound = in
	return nil
}

func (u *update) parseMessage(m *wireMessage) error {
	if m.MessageID <= 0 {
		return errors.New("no message_id")
	}
	if err := u.common(m.Chat, m.From, m.Date); err != nil {
		return err
	}
	u.Inbound.ProviderID = u.Inbound.From + ":" + strconv.FormatInt(m.MessageID, 10)
	parts, files, what := messageParts(m)
	if len(parts) == 0 {
		*u = update{ID: u.ID, Kind: u.Kind, Ignored: "a message without content Conversa keeps (" + what + ")"}
		return nil
	}
	u.Inbound.Parts, u.Files = parts, files
	return nil
}

// parseEdit reads an edited message: an Inbound that Edits the stored
// message (its ProviderID, "<chat>:<message id>"), whose text becomes the
// new one. Its own ProviderID, the edited message's followed by
// ":edit:<update id>", names it when the edited message was never stored
// and the edit is stored as a message of its own. Only the new text or
// caption is kept; an edit without text (a live location moving) is
// ignored.
func (u *update) parseEdit(m *wireMessage) error {
	if m.MessageID <= 0 {
		return errors.New("no message_id")
	}
	date := m.EditDate
	if date == 0 {
		date = m.Date
	}
	if err := u.common(m.Chat, m.From, date); err != nil {
		return err
	}
	text := cleanText(m.Text)
	if text == "" {
		text = cleanText(m.Caption)
	}
	if text == "" {
		*u = update{ID: u.ID, Kind: u.Kind, Ignored: "an edit without text"}
		return nil
	}
	u.Inbound.Edits = u.Inbound.From + ":" + strconv.FormatInt(m.MessageID, 10)
	u.Inbound.ProviderID = u.Inbound.Edits + ":edit:" + strconv.FormatInt(u.ID, 10)
	u.Inbound.Parts = []conversation.Part{conversation.TextPart(text)}
	return nil
}

// parseCallback reads a button press: a text part whose text is the
// button's title (as the message showed it) and whose payload is its
// callback_data, the button id Send put there.
func (u *update) parseCallback(q *wireCallback) error {
	id := clean(q.ID, 128)
	if id == "" || id != q.ID {
		return errors.New("no callback query id")
	}
	chat := wireChat{ID: q.From.ID, Type: "private"}
	if q.Message != nil && q.Message.Chat.ID != 0 {
		chat = q.Message.Chat
	}
	if err := u.common(chat, &q.From, 0); err != nil {
		return err
	}
	u.Inbound.ProviderID = "cb:" + id
	u.CallbackID = id
	data := clean(q.Data, conversation.MaxShortField)
	if strings.TrimSpace(data) == "" {
		*u = update{ID: u.ID, Kind: u.Kind, Ignored: "a callback query without data", CallbackID: id}
		return nil
	}
	title := data
	if q.Message != nil && q.Message.Markup != nil {
	search:
		for _, row := range q.Message.Markup.InlineKeyboard {
			for _, b := range row {
				if b.CallbackData == q.Data && strings.TrimSpace(b.Text) != "" {
					title = b.Text
					break search
				}
			}
		}
	}
	u.Inbound.Parts = []conversation.Part{{Type: conversation.PartText, Text: cleanText(title), Payload: data}}
	if u.Inbound.Parts[0].Text == "" {
		u.Inbound.Parts[0].Text = data
	}
	return nil
}

// messageParts turns a message's content into parts. Media parts carry
// their caption, their type and size as Telegram gave them, and no file
// yet: files[i] is the file id of part i. what names the content when
// there are no parts.
func messageParts(m *wireMessage) (parts []conversation.Part, files map[int]string, what string) {
	caption := cleanText(m.Caption)
	addFile := func(f *wireFile, defType, defName string) {
		if f == nil || f.FileID == "" || len(f.FileID) > conversation.MaxShortField {
			return
		}
		media := &conversation.Media{ContentType: contentType(f.MimeType, defType), Filename: filename(f.FileName, defName)}
		if f.FileSize > 0 {
			media.Size = f.FileSize
		}
		if files == nil {
			files = map[int]string{}
		}
		files[len(parts)] = f.FileID
		parts = append(parts, conversation.Part{Type: conversation.PartMedia, Text: caption, Media: media})
		caption = ""
	}
	if text := cleanText(m.Text); text != "" {
		parts = append(parts, conversation.TextPart(text))
	}
	if len(m.Photo) > 0 {
		addFile(largest(m.Photo), "image/jpeg", "")
	}
	addFile(m.Voice, "audio/ogg", "")
	addFile(m.Audio, "audio/mpeg", "")
	addFile(m.Document, "application/octet-stream", "")
	addFile(m.Video, "video/mp4", "")
	addFile(m.VideoNote, "video/mp4", "")
	switch {
	case m.Venue != nil && validPoint(m.Venue.Location):
		parts = append(parts, conversation.Part{Type: conversation.PartLocation, Location: &conversation.Location{
			Latitude: m.Venue.Location.Latitude, Longitude: m.Venue.Location.Longitude,
			Name: clean(m.Venue.Title, conversation.MaxShortField), Address: clean(m.Venue.Address, conversation.MaxShortField),
		}})
	case m.Location != nil && validPoint(*m.Location):
		parts = append(parts, conversation.Part{Type: conversation.PartLocation, Location: &conversation.Location{
			Latitude: m.Location.Latitude, Longitude: m.Location.Longitude,
		}})
	}
	if c := m.Contact; c != nil {
		card := &conversation.ContactCard{Name: truncateRunes(fullName(c.FirstName, c.LastName), conversation.MaxNameLength)}
		if p := phone(c.PhoneNumber); p != "" {
			card.Phones = []string{p}
		}
		if card.Name != "" || len(card.Phones) > 0 {
			parts = append(parts, conversation.Part{Type: conversation.PartContact, Contact: card})
		}
	}
	if caption != "" && len(parts) == 0 {
		parts = append(parts, conversation.TextPart(caption))
	}
	if len(parts) > conversation.MaxParts {
		parts = parts[:conversation.MaxParts]
	}
	what = "no text"
	if m.Sticker != nil {
		what = "a sticker"
	}
	return parts, files, what
}

// largest returns the biggest of the sizes Telegram offers of a photo.
func largest(sizes []wireFile) *wireFile {
	best := &sizes[0]
	for i := range sizes {
		s := &sizes[i]
		if s.FileSize > best.FileSize || (s.FileSize == best.FileSize && s.Width*s.Height > best.Width*best.Height) {
			best = s
		}
	}
	return best
}

// contentType returns the media type Telegram gave, without parameters,
// or def when it gave none or nonsense.
func contentType(given, def string) string {
	mt, _, err := mime.ParseMediaType(given)
	if err != nil || len(mt) > 128 || !strings.Contains(mt, "/") {
		return def
	}
	return mt
}

// filename keeps the last element of a sender's file name, printable and
// short.
func filename(name, def string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	name = truncateRunes(clean(name, 4*maxFilename), maxFilename)
	if name == "" || name == "." || name == ".." {
		return def
	}
	return name
}

// phone returns a shared contact's number in international form: Telegram
// sends it with or without the +.
func phone(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '(' || r == ')' {
			return -1
		}
		return r
	}, s)
	digits := strings.TrimPrefix(s, "+")
	if digits == "" || len(digits) > 20 || strings.Trim(digits, "0123456789") != "" {
		return ""
	}
	return "+" + digits
}

func validPoint(l wireLocation) bool {
	return l.Latitude >= -90 && l.Latitude <= 90 && l.Longitude >= -180 && l.Longitude <= 180
}

// unixTime reads a Bot API date; nonsense is the zero time (the service
// then uses the time of arrival).
func unixTime(sec int64) time.Time {
	if sec <= 0 || sec > 1<<40 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

func fullName(first, last string) string {
	return clean(strings.TrimSpace(strings.TrimSpace(first)+" "+strings.TrimSpace(last)), 4*conversation.MaxNameLength)
}

// cleanText returns message text the core accepts.
func cleanText(s string) string {
	return strings.TrimSpace(clean(s, maxText))
}

// clean makes s valid UTF-8 without NUL or other control characters
// (newlines and tabs stay), at most max bytes.
func clean(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	if len(s) > max {
		s = s[:max]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n]))
}

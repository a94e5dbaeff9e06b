package valkey

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"time"

	valkeygo "github.com/valkey-io/valkey-go"

	"conversa/conversation"
)

// limitLua counts an event in KEYS[1], starting a window of ARGV[1]
// milliseconds with the first event, and returns the count and the
// milliseconds left in the window. A counter without expiry (left by
// someone else) gets one, so that it cannot refuse forever.
const limitLua = `
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
	redis.call('PEXPIRE', KEYS[1], ARGV[1])
	ttl = tonumber(ARGV[1])
end
return {n, ttl}
`

// extendLua renews KEYS[1] for ARGV[2] milliseconds if it still holds the
// token ARGV[1]; it returns 1 if it did, 0 if not.
const extendLua = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`

// unlockLua deletes KEYS[1] if it still holds the token ARGV[1].
const unlockLua = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
`

// millis rounds d up to whole milliseconds, the server's resolution, so that
// a positive duration never becomes zero.
func millis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// Seen reports whether key was remembered and has not expired (EXISTS
// <prefix>:dedup:<key>). Returns EINVALID for an empty key and EUNAVAILABLE
// when the server cannot be reached.
func (c *Client) Seen(ctx context.Context, key string) (bool, error) {
	if key == "" {
		return false, conversation.Errorf(conversation.EINVALID, "empty key")
	}
	n, err := c.client.Do(ctx, c.client.B().Exists().Key(c.key("dedup", key)).Build()).AsInt64()
	if err != nil {
		return false, unavailable("exists", err)
	}
	return n == 1, nil
}

// Remember stores key for ttl, rounded up to whole milliseconds, replacing
// an earlier ttl (SET <prefix>:dedup:<key> 1 PX ttl). Returns EINVALID for
// an empty key or a ttl that is not positive, and EUNAVAILABLE when the
// server cannot be reached.
func (c *Client) Remember(ctx context.Context, key string, ttl time.Duration) error {
	if key == "" {
		return conversation.Errorf(conversation.EINVALID, "empty key")
	}
	if ttl <= 0 {
		return conversation.Errorf(conversation.EINVALID, "ttl must be positive, got %v", ttl)
	}
	cmd := c.client.B().Set().Key(c.key("dedup", key)).Value("1").PxMilliseconds(millis(ttl)).Build()
	if err := c.client.Do(ctx, cmd).Error(); err != nil {
		return unavailable("set", err)
	}
	return nil
}

// Allow counts one event for key in a fixed window that starts with the
// first event after the previous window ended, in one atomic round trip
// (<prefix>:rate:<key>), and reports whether the count is within limit.
// When it is not, retryAfter is the time until the window ends, in
// (0, window]. Refused events count too. A key's window is set by the event
// that starts it. Returns EINVALID for an empty key or a limit or window
// that is not positive, and EUNAVAILABLE when the server cannot be reached.
func (c *Client) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	if key == "" {
		return false, 0, conversation.Errorf(conversation.EINVALID, "empty key")
	}
	if limit <= 0 || window <= 0 {
		return false, 0, conversation.Errorf(conversation.EINVALID, "limit and window must be positive, got %d per %v", limit, window)
	}
	ms := millis(window)
	res, err := c.limitScript.Exec(ctx, c.client, []string{c.key("rate", key)}, []string{strconv.FormatInt(ms, 10)}).AsIntSlice()
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("unexpected reply %v", res)
	}
	if err != nil {
		return false, 0, unavailable("rate limit", err)
	}
	if res[0] <= int64(limit) {
		return true, 0, nil
	}
	// PTTL is 0 in the window's last millisecond, and at most the window
	// rounded up.
	left := time.Duration(min(max(res[1], 1), ms)) * time.Millisecond
	return false, min(left, window), nil
}

// TryLock takes the lock named key for ttl, rounded up to whole
// milliseconds (SET <prefix>:lock:<key> <token> NX PX ttl). Returns
// ECONFLICT if another holder has it, EINVALID for an empty key or a ttl
// that is not positive, and EUNAVAILABLE when the server cannot be reached.
// The Lock's methods are safe for concurrent use.
func (c *Client) TryLock(ctx context.Context, key string, ttl time.Duration) (conversation.Lock, error) {
	if key == "" {
		return nil, conversation.Errorf(conversation.EINVALID, "empty lock key")
	}
	if ttl <= 0 {
		return nil, conversation.Errorf(conversation.EINVALID, "lock ttl must be positive, got %v", ttl)
	}
	l := &lock{c: c, name: key, key: c.key("lock", key), token: rand.Text()}
	cmd := c.client.B().Set().Key(l.key).Value(l.token).Nx().PxMilliseconds(millis(ttl)).Build()
	if err := c.client.Do(ctx, cmd).Error(); err != nil {
		if valkeygo.IsValkeyNil(err) {
			return nil, conversation.Errorf(conversation.ECONFLICT, "lock %q is held", key)
		}
		return nil, unavailable("lock", err)
	}
	return l, nil
}

// lock is a lease taken by Client.TryLock; its random token tells it from
// later leases of the same key.
type lock struct {
	c     *Client
	name  string
	key   string
	token string
}

// Extend renews the lease for ttl, rounded up to whole milliseconds.
// Returns ECONFLICT if the lease was lost: released, or its ttl passed (even
// if nobody took it since). Returns EINVALID for a ttl that is not positive
// and EUNAVAILABLE when the server cannot be reached.
func (l *lock) Extend(ctx context.Context, ttl time.Duration) error {
	if ttl <= 0 {
		return conversation.Errorf(conversation.EINVALID, "lock ttl must be positive, got %v", ttl)
	}
	n, err := l.c.extendScript.Exec(ctx, l.c.client, []string{l.key}, []string{l.token, strconv.FormatInt(millis(ttl), 10)}).AsInt64()
	if err != nil {
		return unavailable("extend lock", err)
	}
	if n != 1 {
		return conversation.Errorf(conversation.ECONFLICT, "lock %q was lost", l.name)
	}
	return nil
}

// Unlock releases the lease if it is still held, and never a later
// holder's. It returns nil whether or not the lease was still held, and
// EUNAVAILABLE when the server cannot be reached; the lease then ends with
// its ttl.
func (l *lock) Unlock(ctx context.Context) error {
	if err := l.c.unlockScript.Exec(ctx, l.c.client, []string{l.key}, []string{l.token}).Error(); err != nil {
		return unavailable("unlock", err)
	}
	return nil
}

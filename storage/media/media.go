// Package media is the conversation.MediaStore on a local directory: each
// file of a tenant under <root>/<tenant id>/<random key>. Keys are random,
// so they cannot be guessed, and checked on the way in, so they cannot name
// anything outside the tenant's directory.
package media

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"conversa/conversation"
)

// Dir stores files under a directory.
type Dir struct {
	root string
}

var _ conversation.MediaStore = (*Dir)(nil)

// Open returns the store of the directory root, creating it if needed.
func Open(root string) (*Dir, error) {
	if root == "" {
		return nil, errors.New("media: no directory given")
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	return &Dir{root: root}, nil
}

// keyLen is the length of a key: 16 random bytes in hex.
const keyLen = 32

// Put implements conversation.MediaStore. The file is written under a
// temporary name and renamed when complete, so a reader never sees a part.
func (d *Dir) Put(ctx context.Context, tenantID int64, m conversation.Media, r io.Reader) (conversation.Media, error) {
	if tenantID <= 0 {
		return m, conversation.FieldError("tenant_id", "is required")
	}
	dir := filepath.Join(d.root, strconv.FormatInt(tenantID, 10))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return m, fmt.Errorf("media: %w", err)
	}
	b := make([]byte, keyLen/2)
	rand.Read(b)
	key := hex.EncodeToString(b)
	tmp, err := os.CreateTemp(dir, ".put-*")
	if err != nil {
		return m, fmt.Errorf("media: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a rename, nothing to remove
	n, err := io.Copy(tmp, contextReader{ctx, r})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return m, fmt.Errorf("media: store file: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, key)); err != nil {
		return m, fmt.Errorf("media: %w", err)
	}
	m.Key, m.Size, m.URL, m.Note = key, n, "", ""
	return m, nil
}

// Open implements conversation.MediaStore.
func (d *Dir) Open(_ context.Context, tenantID int64, key string) (io.ReadCloser, error) {
	if !validKey(key) || tenantID <= 0 {
		return nil, conversation.Errorf(conversation.ENOTFOUND, "file not found")
	}
	f, err := os.Open(filepath.Join(d.root, strconv.FormatInt(tenantID, 10), key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, conversation.Errorf(conversation.ENOTFOUND, "file not found")
	}
	return f, err
}

func validKey(key string) bool {
	if len(key) != keyLen {
		return false
	}
	for i := range len(key) {
		if c := key[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// contextReader stops a copy when ctx ends.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

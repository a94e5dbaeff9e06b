package conversation

import (
	"context"
	"io"
)

// MediaStore keeps the files of messages: what customers send, copied from
// their provider, and what agents attach. storage/media implements it on a
// local directory.
type MediaStore interface {
	// Put stores the file read from r as a new file of the tenant and
	// returns m with Key and Size set. Nothing is stored when reading r
	// fails. Callers limit what they pass (see channels.MediaPolicy).
	Put(ctx context.Context, tenantID int64, m Media, r io.Reader) (Media, error)
	// Open returns the tenant's file stored under key. Returns ENOTFOUND if
	// the key is not a file of the tenant.
	Open(ctx context.Context, tenantID int64, key string) (io.ReadCloser, error)
}

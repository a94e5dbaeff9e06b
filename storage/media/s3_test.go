package media

import (
	"bytes"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"

	"conversa/conversation"
)

// newS3 starts an S3-compatible server in memory (S3 is a paid external
// service: this local server speaks its wire format) with one bucket, and
// opens the store on it through the real client library.
func newS3(t *testing.T) *S3 {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("media"); err != nil {
		t.Fatal(err)
	}
	// Over TLS, as in production: the client then sends the payload as
	// it is, not in signed chunks.
	srv := httptest.NewTLSServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	cfg, err := ParseS3URL("s3://AKIAEXAMPLE:secret0123456789@" + strings.TrimPrefix(srv.URL, "https://") + "/media/conversa?region=us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Transport = srv.Client().Transport
	s, err := OpenS3(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestS3PutOpen(t *testing.T) {
	s := newS3(t)
	testPutOpen(t, s)
	// Objects are the tenant's under the prefix.
	var names []string
	for o := range s.client.ListObjects(t.Context(), "media", minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		names = append(names, o.Key)
	}
	if len(names) != 2 || !strings.HasPrefix(names[0], "conversa/7/") || !strings.HasPrefix(names[1], "conversa/7/") {
		t.Fatalf("objects %v; want two under conversa/7/", names)
	}
}

func TestS3PutFailureLeavesNothing(t *testing.T) {
	s := newS3(t)
	boom := errors.New("connection reset")
	r := io.MultiReader(bytes.NewReader(make([]byte, 1000)), errReader{boom})
	if _, err := s.Put(t.Context(), 3, conversation.Media{ContentType: "audio/ogg"}, r); !errors.Is(err, boom) {
		t.Fatalf("Put of a failing reader = %v; want %v", err, boom)
	}
	for o := range s.client.ListObjects(t.Context(), "media", minio.ListObjectsOptions{Recursive: true}) {
		t.Fatalf("a failed put left %s (%v)", o.Key, o.Err)
	}
}

func TestParseS3URL(t *testing.T) {
	cfg, err := ParseS3URL("s3://AK:SK@s3.us-east-1.amazonaws.com/acme-media/conversa/prod?region=us-east-1")
	if err != nil || cfg.Endpoint != "s3.us-east-1.amazonaws.com" || cfg.Bucket != "acme-media" || cfg.Prefix != "conversa/prod/" ||
		cfg.AccessKey != "AK" || cfg.SecretKey != "SK" || cfg.Region != "us-east-1" || cfg.Insecure {
		t.Fatalf("ParseS3URL = %+v, %v", cfg, err)
	}
	for _, bad := range []string{"http://AK:SK@host/bucket", "s3://host/bucket", "s3://AK:SK@host/", "s3://AK@host/bucket", "::"} {
		if _, err := ParseS3URL(bad); err == nil {
			t.Errorf("ParseS3URL(%q) accepted", bad)
		}
	}
	if _, err := OpenS3(t.Context(), S3Config{Endpoint: strings.TrimPrefix(httptest.NewServer(gofakes3.New(s3mem.New()).Server()).URL, "http://"),
		Bucket: "missing", AccessKey: "a", SecretKey: "b", Insecure: true}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("OpenS3 of a missing bucket = %v", err)
	}
}

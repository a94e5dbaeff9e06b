package media

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"conversa/conversation"
)

// S3 is the conversation.MediaStore on an S3-compatible object store (AWS
// S3, MinIO, Ceph, Cloudflare R2, ...), which every node shares: each file
// is the object <prefix><tenant id>/<random key> of one bucket.
type S3 struct {
	client *minio.Client
	bucket string
	prefix string
}

var _ conversation.MediaStore = (*S3)(nil)

// S3Config names the bucket and how to reach it.
type S3Config struct {
	// Endpoint is the store's host[:port], such as s3.amazonaws.com.
	Endpoint string
	Bucket   string
	// Prefix starts every object's name, such as "conversa/".
	Prefix               string
	AccessKey, SecretKey string
	Region               string
	// Insecure speaks plain HTTP, for a store on the same machine.
	Insecure bool
	// Transport carries the requests; nil means the client's own.
	Transport http.RoundTripper
}

// ParseS3URL reads an S3Config from a URL:
// s3://ACCESS_KEY:SECRET_KEY@host[:port]/bucket[/prefix][?region=R], or
// s3+http:// for a store reached without TLS.
func ParseS3URL(raw string) (S3Config, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "s3" && u.Scheme != "s3+http") || u.Host == "" {
		return S3Config{}, errors.New("not an s3:// URL: s3://ACCESS_KEY:SECRET_KEY@host/bucket[/prefix]")
	}
	cfg := S3Config{Endpoint: u.Host, Insecure: u.Scheme == "s3+http", Region: u.Query().Get("region")}
	if u.User != nil {
		cfg.AccessKey = u.User.Username()
		cfg.SecretKey, _ = u.User.Password()
	}
	path := strings.Trim(u.Path, "/")
	cfg.Bucket, cfg.Prefix, _ = strings.Cut(path, "/")
	if cfg.Prefix != "" {
		cfg.Prefix += "/"
	}
	if cfg.Bucket == "" || cfg.AccessKey == "" || cfg.SecretKey == "" {
		return S3Config{}, errors.New("an s3:// URL needs the access key, the secret key and the bucket")
	}
	return cfg, nil
}

// OpenS3 returns the store of the bucket, which must exist.
func OpenS3(ctx context.Context, cfg S3Config) (*S3, error) {
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:    !cfg.Insecure,
		Region:    cfg.Region,
		Transport: cfg.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("media: bucket %s: %w", cfg.Bucket, err)
	}
	if !ok {
		return nil, fmt.Errorf("media: bucket %s does not exist", cfg.Bucket)
	}
	return &S3{client: client, bucket: cfg.Bucket, prefix: cfg.Prefix}, nil
}

func (s *S3) object(tenantID int64, key string) string {
	return s.prefix + strconv.FormatInt(tenantID, 10) + "/" + key
}

// Put implements conversation.MediaStore. The object appears whole or not
// at all: a failed read aborts the upload.
func (s *S3) Put(ctx context.Context, tenantID int64, m conversation.Media, r io.Reader) (conversation.Media, error) {
	if tenantID <= 0 {
		return m, conversation.FieldError("tenant_id", "is required")
	}
	b := make([]byte, keyLen/2)
	rand.Read(b)
	key := hex.EncodeToString(b)
	info, err := s.client.PutObject(ctx, s.bucket, s.object(tenantID, key), r, -1, minio.PutObjectOptions{ContentType: m.ContentType})
	if err != nil {
		return m, fmt.Errorf("media: store file: %w", err)
	}
	m.Key, m.Size, m.URL, m.Note = key, info.Size, "", ""
	return m, nil
}

// Open implements conversation.MediaStore.
func (s *S3) Open(ctx context.Context, tenantID int64, key string) (io.ReadCloser, error) {
	if !validKey(key) || tenantID <= 0 {
		return nil, conversation.Errorf(conversation.ENOTFOUND, "file not found")
	}
	obj, err := s.client.GetObject(ctx, s.bucket, s.object(tenantID, key), minio.GetObjectOptions{})
	if err == nil {
		_, err = obj.Stat()
	}
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		return nil, conversation.Errorf(conversation.ENOTFOUND, "file not found")
	}
	if err != nil {
		return nil, fmt.Errorf("media: read file: %w", err)
	}
	return obj, nil
}

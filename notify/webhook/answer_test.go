package webhook_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/notify/webhook"
)

// TestAnswerError: 2xx is done; 408, 429 and 5xx are retried after their
// Retry-After (seconds or an HTTP date, at most an hour); others fail.
func TestAnswerError(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		status     int
		retryAfter string
		permanent  bool
		wait       time.Duration
	}{
		{status: 429, retryAfter: "7", wait: 7 * time.Second},
		{status: 503, retryAfter: now.Add(90 * time.Second).Format(http.TimeFormat), wait: 90 * time.Second},
		{status: 500, retryAfter: "86400", wait: time.Hour},
		{status: 502, retryAfter: "soon"},
		{status: 503, retryAfter: now.Add(-time.Minute).Format(http.TimeFormat)},
		{status: 408},
		{status: 400, retryAfter: "7", permanent: true},
		{status: 401, permanent: true},
		{status: 301, permanent: true},
	} {
		resp := &http.Response{StatusCode: tc.status, Header: http.Header{}}
		if tc.retryAfter != "" {
			resp.Header.Set("Retry-After", tc.retryAfter)
		}
		err := webhook.AnswerError(resp, now, errors.New("answered"))
		je, ok := errors.AsType[*conversation.JobError](err)
		if !ok || je.Permanent != tc.permanent || je.RetryAfter != tc.wait || je.Error() != "answered" {
			t.Errorf("%d with Retry-After %q: %+v; want permanent %v, retry after %v", tc.status, tc.retryAfter, err, tc.permanent, tc.wait)
		}
	}
	if err := webhook.AnswerError(&http.Response{StatusCode: 204, Header: http.Header{}}, now, errors.New("x")); err != nil {
		t.Errorf("204: %v", err)
	}
}

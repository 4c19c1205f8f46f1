package jsonhttp_test

import (
	"net/http"
	"testing"

	"github.com/dailydoco/ddp-verify/platform/jsonhttp"
)

func TestBearer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, header, token string
		want                bool
	}{
		{"canonical", "Bearer s3cret", "s3cret", true},
		{"lower-case scheme", "bearer s3cret", "s3cret", true},
		{"upper-case scheme", "BEARER s3cret", "s3cret", true},
		{"mixed-case scheme", "bEaReR s3cret", "s3cret", true},
		{"several spaces", "Bearer   s3cret", "s3cret", true},
		{"wrong token", "Bearer s3cre", "s3cret", false},
		{"token case matters", "Bearer S3CRET", "s3cret", false},
		{"other scheme", "Basic s3cret", "s3cret", false},
		{"scheme only", "Bearer", "s3cret", false},
		{"no header", "", "s3cret", false},
		{"token without scheme", "s3cret", "s3cret", false},
		{"empty token never matches", "Bearer ", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			if got := jsonhttp.Bearer(r, tc.token); got != tc.want {
				t.Errorf("Bearer(%q, %q) = %v, want %v", tc.header, tc.token, got, tc.want)
			}
		})
	}
}

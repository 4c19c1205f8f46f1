package cluster

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// The control API takes the bearer scheme in any case, as RFC 7235 says of authentication
// schemes, and refuses a wrong or missing token whatever the scheme's case.
func TestControlAPIBearerSchemeIsCaseInsensitive(t *testing.T) {
	t.Parallel()
	h := (&Cluster{controlToken: "tok"}).controlHandler()
	for _, tc := range []struct {
		auth string
		want int
	}{
		{"Bearer tok", http.StatusOK},
		{"bearer tok", http.StatusOK},
		{"BEARER tok", http.StatusOK},
		{"bearer wrong", http.StatusUnauthorized},
		{"Basic tok", http.StatusUnauthorized},
		{"", http.StatusUnauthorized},
	} {
		req := httptest.NewRequest(http.MethodGet, "/v1/changes", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("Authorization %q: status %d, want %d (%s)", tc.auth, rec.Code, tc.want, rec.Body)
		}
	}
}

// Package jsonhttp is the JSON wire format every reference-platform service shares: responses,
// errors shaped {"error":{"code":"...","message":"..."}} with stable codes, strict request
// decoding, and a small client that turns error responses back into [*Error].
package jsonhttp

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Error is an HTTP error with a stable code. Services return it, clients get it back.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// Errorf returns an *Error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Code returns the code of err if it is an *Error, else "".
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Write writes v as JSON with status.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
	}
}

// WriteError writes err: an *Error as itself, anything else as 500 internal_error.
func WriteError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Code: "internal_error", Message: err.Error()}
	}
	Write(w, e.Status, struct {
		Error *Error `json:"error"`
	}{e})
}

// Bearer reports whether r carries "Authorization: Bearer <token>". The scheme is matched
// case-insensitively, as RFC 7235 says of every authentication scheme ("bearer" and "BEARER"
// are the same scheme); the token is compared exactly and in constant time. An empty token
// never matches, so a server whose token was never set refuses everyone.
func Bearer(r *http.Request, token string) bool {
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || token == "" || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimLeft(got, " ")), []byte(token)) == 1
}

// Decode reads one JSON object of at most limit bytes into v, rejecting unknown fields. Its
// errors are *Error: 400 bad_json or invalid_json_field, 413 body_too_large.
func Decode(r *http.Request, limit int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return Errorf(http.StatusRequestEntityTooLarge, "body_too_large", "the request body exceeds %d bytes", limit)
		case errors.As(err, &ute):
			return Errorf(http.StatusBadRequest, "invalid_json_field", "field %q must be a %s", ute.Field, ute.Type)
		default:
			return Errorf(http.StatusBadRequest, "bad_json", "the body is not the JSON object expected: %v", err)
		}
	}
	if dec.More() {
		return Errorf(http.StatusBadRequest, "bad_json", "the body holds more than one JSON value")
	}
	return nil
}

// Client calls a JSON service. The zero value uses http.DefaultClient and needs BaseURL set.
type Client struct {
	BaseURL string
	HTTP    *http.Client
	// Header is added to every request (authorization).
	Header http.Header
}

// Do sends method path with in as JSON body (nil for none) and decodes a 2xx answer into out
// (nil to discard). An error answer comes back as *Error; 204 leaves out untouched and
// returns ErrNoContent.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.Header {
		req.Header[k] = v
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return DecodeResponse(resp, out)
}

// ErrNoContent is returned for a 204 answer.
var ErrNoContent = errors.New("no content")

// DecodeResponse reads resp: a 2xx body into out, an error body into *Error.
func DecodeResponse(resp *http.Response, out any) error {
	if resp.StatusCode == http.StatusNoContent {
		return ErrNoContent
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read %s answer: %w", resp.Request.URL.Path, err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error *Error `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error == nil {
			e.Error = &Error{Code: "http_" + fmt.Sprint(resp.StatusCode), Message: string(bytes.TrimSpace(b))}
		}
		e.Error.Status = resp.StatusCode
		return e.Error
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode %s answer: %w", resp.Request.URL.Path, err)
	}
	return nil
}

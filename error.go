package reel

import (
	"errors"
	"fmt"
)

// Error codes. They are part of the HTTP contract (docs/api.md): clients switch on
// them, so they never change. The HTTP layer maps each to one status code in
// exactly one place.
const (
	EBADREQUEST   = "bad_request"          // 400
	EUNAUTHORIZED = "unauthorized"         // 401
	EFORBIDDEN    = "forbidden"            // 403
	ENOTFOUND     = "not_found"            // 404
	ECONFLICT     = "conflict"             // 409
	ETOOLARGE     = "too_large"            // 413
	EQUOTA        = "quota_exceeded"       // 413: a per-user storage bound
	EUNSUPPORTED  = "unsupported_media"    // 415
	EINVALID      = "invalid"              // 422, with Fields
	ERATELIMITED  = "rate_limited"         // 429
	EUNAVAILABLE  = "unavailable"          // 503, with Retry-After
	ESTORAGE      = "insufficient_storage" // 507: the node has no room for it
	EINTERNAL     = "internal"             // 500
)

// Error is an error a user of reel is meant to see: a stable code, a message
// written for a person, and, for validation errors, the offending fields.
// Any other error is internal and is never shown to clients.
type Error struct {
	Code    string
	Message string
	Fields  map[string]string
}

func (e *Error) Error() string { return fmt.Sprintf("reel: %s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a validation error naming each offending field, or nil when
// fields is empty, so callers can collect problems and return the result.
func Invalid(fields map[string]string) error {
	if len(fields) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Message: "validation failed", Fields: fields}
}

// ErrorCode returns the code of err when it is (or wraps) an *Error, and
// EINTERNAL for any other non-nil error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the human message of an *Error, and a generic text for
// any other error so that internals never leak.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

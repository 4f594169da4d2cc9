package reel

import (
	"errors"
	"fmt"
	"sync"
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

// ErrorCode returns the code of err when it is (or wraps) an *Error, the code
// a registered classifier gives it, and EINTERNAL for any other non-nil error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	if e := AsError(err); e != nil {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the human message of an *Error (or of what a
// classifier makes of err), and a generic text for any other error so that
// internals never leak.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	if e := AsError(err); e != nil {
		return e.Message
	}
	return "internal error"
}

// AsError returns the *Error that err is or wraps, else what the first
// registered classifier makes of err, else nil: err is internal.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	classifiers.RLock()
	defer classifiers.RUnlock()
	for _, c := range classifiers.list {
		if e := c(err); e != nil {
			return e
		}
	}
	return nil
}

// A Classifier recognises the errors of the infrastructure it knows that a
// client may be told about, typically that a dependency is unreachable for
// now (EUNAVAILABLE), and returns them as an *Error; nil when it does not
// recognise err.
//
// Why a registry: the store knows its drivers' errors, while every error a
// client sees is judged by ErrorCode and ErrorMessage, whatever layer
// (cache, upload hook, job queue) it crossed on the way; registering once
// classifies all of them in one place, without each layer wrapping errors.
type Classifier func(err error) *Error

var classifiers struct {
	sync.RWMutex
	list []Classifier
}

// RegisterClassifier adds c to the classifiers AsError asks, in order.
// Infrastructure packages call it from init, as drivers register with
// database/sql.
func RegisterClassifier(c Classifier) {
	classifiers.Lock()
	defer classifiers.Unlock()
	classifiers.list = append(classifiers.list, c)
}

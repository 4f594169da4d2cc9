package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/reel-video/reel"
)

// The store's errors cross caches, upload hooks and the job queue before an
// HTTP answer is written; rather than wrap them at each of those layers,
// the store registers what it knows about its drivers once, and every error
// writer asks it (reel.AsError). A query hook cannot do it: bun's hooks see
// errors but cannot change them.
func init() { reel.RegisterClassifier(classify) }

// classify makes an error of a database that cannot serve for now an
// EUNAVAILABLE error (503 with Retry-After), and leaves anything else alone.
func classify(err error) *reel.Error {
	switch unavailable(err) {
	case busy:
		return reel.Errorf(reel.EUNAVAILABLE, "the database is busy; try again shortly")
	case full:
		return reel.Errorf(reel.EUNAVAILABLE, "the database cannot take writes for now; try again later")
	case unreachable:
		return reel.Errorf(reel.EUNAVAILABLE, "the database is unreachable; try again shortly")
	case transport:
		return reel.Errorf(reel.EUNAVAILABLE, "a service this request needs is unreachable; try again shortly")
	}
	return nil
}

type outage int

const (
	noOutage outage = iota
	busy
	full
	unreachable
	transport // a broken connection, without a driver's word on whose
)

// unavailable says why err means that the database cannot serve for now:
//   - SQLite: another connection held the write lock past busy_timeout
//     (SQLITE_BUSY, SQLITE_LOCKED) or the disk is full (SQLITE_FULL);
//   - PostgreSQL: connecting failed (refused, reset, the server shutting
//     down or starting up: class 08, 57P01-57P03), the connection broke
//     mid-exchange, the server lacks resources (class 53: disk full, too
//     many connections), or it is a standby that cannot write (25006,
//     during a failover).
//
// A cancelled or timed-out context is not the database's doing: the HTTP
// layer tells a client that went away from a request out of time.
func unavailable(err error) outage {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return noOutage
	}
	if e, ok := errors.AsType[*sqlite.Error](err); ok {
		switch e.Code() & 0xff { // the primary code of an extended one
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return busy
		case sqlite3.SQLITE_FULL:
			return full
		}
		return noOutage
	}
	if e, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch {
		case len(e.Code) == 5 && e.Code[:2] == "08",
			e.Code == "57P01", e.Code == "57P02", e.Code == "57P03", e.Code == "25006":
			return unreachable
		case len(e.Code) == 5 && e.Code[:2] == "53":
			return full
		}
		return noOutage
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return unreachable
	}
	// pgconn wraps every failed network exchange (EOF, reset, refused) in
	// an error that says whether a retry is safe; a closed connection and
	// database/sql giving up on bad connections mean the same.
	if _, ok := errors.AsType[interface {
		error
		SafeToRetry() bool
	}](err); ok {
		return unreachable
	}
	if errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, driver.ErrBadConn) {
		return unreachable
	}
	// When a connection breaks while a result is read, pgconn returns the
	// read error itself: EOF, or a reset. The errors of a client's body are
	// turned into client errors where the body is read, and a reset of the
	// client's own connection is told apart by httperr before any
	// classifier is asked, so a bare transport error here is a dependency.
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) {
		return transport
	}
	return noOutage
}

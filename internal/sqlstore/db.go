// Package sqlstore implements reel's services on SQL: SQLite for the embedded
// default and PostgreSQL to scale out. Both run the same bun queries; only the
// connection setup and the migrations (migrations/{sqlite,postgres}) differ.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Engine names, as returned by (*DB).Engine.
const (
	EngineSQLite   = "sqlite"
	EnginePostgres = "postgres"
)

// DB is reel's database. SQLite lets one connection write at a time, so on
// SQLite writes go through a single connection and reads through a pool of
// read-only ones; on PostgreSQL writer and reader are the same pool. Code
// holding a write transaction must not also use Writer() outside it: on
// SQLite that waits for the one connection the transaction holds.
type DB struct {
	engine string
	path   string // the SQLite file; "" on PostgreSQL
	queue  Queue
	// maxQueued caps waiting jobs in FinishUpload (SetMaxQueued); 0: no cap.
	maxQueued int
	// userQuota caps a user's kept originals in FinishUpload (SetUserQuota); 0: no cap.
	userQuota int64
	// onVideoChange, when set, hears of every change to a video (see SetOnVideoChange).
	onVideoChange atomic.Pointer[func(id int64, lists bool)]
	onRevoked     revokedHook // see SetOnMediaRevoked
	notify        notifyHook  // see SetOnNotify
	writer        *bun.DB
	reader        *bun.DB
	// likes commits likes and unlikes in groups on SQLite; nil on
	// PostgreSQL (see writeLike).
	likes *batcher[*likeWrite]
	// likeStmts, once prepared (likeStatements, under prepareMu).
	likeStmts atomic.Pointer[likeStmts]
	prepareMu sync.Mutex

	// onUserChange, when set, hears of every change to users' rows (see SetOnUserChange).
	onUserChange atomic.Pointer[func(ids []int64)]
}

// Open connects to sqlite://path/to/file.db (relative, or absolute with three
// slashes) or postgres://… (postgresql://… also works) and checks that the
// database answers. It does not migrate: call Migrate.
func Open(ctx context.Context, databaseURL string) (*DB, error) {
	scheme, rest, found := strings.Cut(databaseURL, "://")
	switch strings.ToLower(scheme) {
	case "sqlite":
		return openSQLite(ctx, rest)
	case "postgres", "postgresql":
		return openPostgres(ctx, databaseURL)
	}
	// Only the scheme is repeated: the rest may hold a password.
	what := fmt.Sprintf("scheme %q", scheme)
	if !found {
		what = "no scheme"
	}
	return nil, fmt.Errorf("database URL has %s: use sqlite://path/to/reel.db or postgres://user:password@host:5432/dbname", what)
}

// Close closes every connection.
func (db *DB) Close() error {
	err := db.writer.Close()
	if db.reader != db.writer {
		err = errors.Join(err, db.reader.Close())
	}
	return err
}

// Ping checks that the database answers, for readiness checks. On SQLite
// it also takes the write lock and lets it go at once (writing nothing): a
// file that another process keeps locked past the busy timeout answers
// reads but refuses every write, and that is an outage too.
func (db *DB) Ping(ctx context.Context) error {
	err := db.writer.PingContext(ctx)
	if err == nil && db.reader != db.writer {
		err = db.reader.PingContext(ctx)
	}
	if err == nil && db.engine == EngineSQLite {
		var tx bun.Tx
		if tx, err = db.writer.BeginTx(ctx, nil); err == nil { // BEGIN IMMEDIATE (_txlock)
			err = tx.Rollback()
		}
	}
	return err
}

// Engine returns EngineSQLite or EnginePostgres.
func (db *DB) Engine() string { return db.engine }

// Dir is the directory of the SQLite database file, whose free space decides
// whether writes succeed; "" on PostgreSQL, whose disk is the server's.
func (db *DB) Dir() string {
	if db.path == "" {
		return ""
	}
	return filepath.Dir(db.path)
}

// Writer returns the handle for writes and for reads that must see a
// transaction's own writes.
func (db *DB) Writer() *bun.DB { return db.writer }

// Reader returns the handle for reads outside transactions. On SQLite it
// refuses writes.
func (db *DB) Reader() *bun.DB { return db.reader }

// SQL returns the writer's *sql.DB, for libraries that take one (River).
func (db *DB) SQL() *sql.DB { return db.writer.DB }

// pingTimeout bounds the check in Open, so that an unreachable host fails the
// start with an error instead of hanging on the TCP connect.
const pingTimeout = 10 * time.Second

// SQLite settings. busy_timeout comes first so the switch to WAL waits for
// another process instead of failing. synchronous=NORMAL is durable in WAL
// mode except against power loss in the last moments before it. The writer
// begins transactions IMMEDIATE: a deferred transaction that reads and then
// writes fails with SQLITE_BUSY when another writer got there first, instead of
// waiting for it.
const (
	sqliteWriterParams = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	sqliteReaderParams = "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=query_only(1)"
)

func openSQLite(ctx context.Context, path string) (*DB, error) {
	switch {
	case path == "":
		return nil, errors.New("sqlite URL names no file: use sqlite://./data/reel.db or sqlite:///absolute/path/reel.db")
	case path == ":memory:":
		return nil, errors.New("sqlite://:memory: is not supported: the reader pool would see another, empty database; use a file")
	case strings.Contains(path, "?"):
		return nil, errors.New("sqlite URL takes no query parameters: reel sets the connection options itself")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create directory for sqlite database: %w", err)
	}
	// The database holds password hashes: only this user may read it. SQLite
	// gives its -wal and -shm files the database file's mode, so setting it
	// here covers them too, even when the directory is readable by others.
	if err := restrictFile(path); err != nil {
		return nil, fmt.Errorf("create sqlite database: %w", err)
	}

	writer, err := openSQL(ctx, "sqlite", path+"?"+sqliteWriterParams)
	if err != nil {
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)

	// The writer has created the file and switched it to WAL, in which readers
	// do not block the writer nor each other.
	reader, err := openSQL(ctx, "sqlite", path+"?"+sqliteReaderParams)
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("open sqlite database %s for reading: %w", path, err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	reader.SetMaxOpenConns(readers)
	reader.SetMaxIdleConns(readers)

	db := &DB{
		engine: EngineSQLite,
		path:   path,
		writer: bun.NewDB(writer, sqlitedialect.New(), bunOptions...),
		reader: bun.NewDB(reader, sqlitedialect.New(), bunOptions...),
	}
	db.likes = newLikeBatch(db)
	return db, nil
}

func openPostgres(ctx context.Context, databaseURL string) (*DB, error) {
	u, err := url.Parse(databaseURL)
	if err != nil {
		// url.Parse's error quotes the whole URL, password included.
		return nil, errors.New("postgres URL is malformed: expected postgres://user:password@host:5432/dbname")
	}
	sqldb, err := openSQL(ctx, "pgx", databaseURL)
	if err != nil {
		// Redacted hides the password; pgx's own errors already leave it out.
		return nil, fmt.Errorf("connect to %s: %w", u.Redacted(), err)
	}
	sqldb.SetMaxOpenConns(20)
	sqldb.SetMaxIdleConns(10)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	// Recycling connections lets a load balancer or failover spread them again.
	sqldb.SetConnMaxLifetime(time.Hour)

	db := bun.NewDB(sqldb, pgdialect.New(), bunOptions...)
	return &DB{engine: EnginePostgres, writer: db, reader: db}, nil
}

func restrictFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	return os.Chmod(path, 0o600)
}

// bunOptions: a binary that is older than the schema (during a rolling
// deploy) must not fail on columns a newer migration added.
var bunOptions = []bun.DBOption{bun.WithDiscardUnknownColumns()}

func openSQL(ctx context.Context, driver, dsn string) (*sql.DB, error) {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// isForeignKeyViolation reports whether err is a foreign key violation.
func isForeignKeyViolation(err error) bool {
	if sqliteErr, ok := errors.AsType[*sqlite.Error](err); ok {
		return sqliteErr.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		return pgErr.Code == "23503" // foreign_key_violation
	}
	return false
}

// isUniqueViolation reports whether err is a unique constraint violation,
// judged by the engines' error codes rather than their wording.
func isUniqueViolation(err error) bool {
	if sqliteErr, ok := errors.AsType[*sqlite.Error](err); ok {
		return sqliteErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		return pgErr.Code == "23505" // unique_violation
	}
	return false
}

package upload

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"
	expslog "golang.org/x/exp/slog"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/httperr"
)

// TusConfig configures the resumable upload endpoint.
type TusConfig struct {
	Area Area // where unfinished uploads live
	// Locker locks an upload for one request at a time, on every node
	// that shares the area; nil takes the area's own (flock(2) on disk).
	// An area on S3 has none: the caller passes one that works across
	// nodes.
	Locker   handler.Locker
	BasePath string        // "/api/v1/uploads/"
	MaxSize  int64         // per upload
	Expiry   time.Duration // unfinished uploads expire after this
	Videos   reel.VideoService
	// Publisher admits, creates and finishes the videos of uploads: the
	// same code as every other upload route (package publish).
	Publisher Admitter
	// Authenticate returns the user of the request's bearer token.
	Authenticate func(r *http.Request) (int64, error)
	// LogOutput receives tusd's warnings and errors (tusd logs through
	// golang.org/x/exp/slog, not log/slog, and its info lines are per request).
	LogOutput io.Writer
}

// Admitter is what tus needs of package publish, which imports this one.
type Admitter interface {
	// AdmitTus admits a new upload of size bytes by userID, who holds
	// pending bytes in other unfinished uploads; whole is false for a part
	// of a concatenation, which is not processed by itself; buffered is
	// true when the upload passes through this node only as a few parts on
	// their way to a remote store (see Area), so that its size need not
	// be free on this node's disk.
	AdmitTus(ctx context.Context, userID, size, pending int64, whole, buffered bool) error
	// CreateTus creates the video of a whole upload and returns its id.
	CreateTus(ctx context.Context, authorID int64, uploadID, title, description, visibility string) (int64, error)
	// FinishTus checks the finished upload and enqueues the video; source
	// is where ffprobe reads the upload: a local path, or a short-lived
	// http(s) URL when the area is not on this node's disk.
	FinishTus(ctx context.Context, videoID, authorID int64, source string, size int64) error
}

// maxFilenameLen bounds the filename kept from a client's metadata, in bytes.
const maxFilenameLen = 255

// Metadata keys reel keeps on each upload; a client's own metadata is never
// stored as is, so it cannot forge them.
const (
	metaOwner   = "reel_owner"
	metaCreated = "reel_created" // unix seconds
	metaVideo   = "reel_video"
)

// NewTus returns the tus 1.0 handler for cfg.BasePath: tusd with the area's
// store and cfg's locker, extended with reel's ownership rules, the Video-ID
// header, the expiration extension and the JSON error shape. Creation,
// creation with upload, termination and concatenation come from tusd;
// creation with a deferred length is not offered, since uploads are
// admitted by their size.
func NewTus(cfg TusConfig) (http.Handler, error) {
	if cfg.Area == nil {
		return nil, errors.New("tus: no upload area")
	}
	if cfg.Locker == nil {
		cfg.Locker = cfg.Area.defaultLocker()
	}
	if cfg.Locker == nil {
		return nil, errors.New("tus: the upload area needs a locker shared by every node")
	}
	store := cfg.Area.store()
	composer := handler.NewStoreComposer()
	composeStore(composer, store)
	composer.UseLocker(gated(cfg.Locker))

	t := &tus{cfg: cfg, store: store}
	cors := handler.DefaultCorsConfig
	// The rate-limit fields tell a browser client when to create again.
	cors.ExposeHeaders += ", Video-ID, Upload-Expires, X-Request-ID, Retry-After, RateLimit, RateLimit-Policy"
	cors.AllowHeaders += ", Idempotency-Key"
	h, err := handler.NewHandler(handler.Config{
		BasePath:      cfg.BasePath,
		StoreComposer: composer,
		MaxSize:       cfg.MaxSize,
		// Downloads of the raw upload would bypass signed media URLs.
		DisableDownload: true,
		Cors:            &cors,
		Logger: expslog.New(expslog.NewJSONHandler(cfg.LogOutput, &expslog.HandlerOptions{Level: expslog.LevelWarn})).
			With("component", "tus"),
		PreUploadCreateCallback:    answeredCreate(t.preCreate),
		PreFinishResponseCallback:  answered(t.preFinish),
		PreUploadTerminateCallback: answered(t.preTerminate),
	})
	if err != nil {
		return nil, err
	}
	return http.StripPrefix(cfg.BasePath, t.guard(h)), nil
}

type tus struct {
	cfg TusConfig
	// store is the area's, unclassified: what reel reads of an upload
	// before tusd (info) is answered through the one error writer.
	store    tusStore
	creating creations // see pending.go
}

// guard runs before tusd: it checks the token and, for an existing upload,
// that the caller owns it and that it has not expired; it also adds the
// expiration extension's headers and turns tusd's text errors into JSON.
func (t *tus) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = withWriteGate(r)
		jw := &jsonErrorWriter{ResponseWriter: w, r: r}
		defer jw.finish()
		w = jw
		if r.Method == http.MethodOptions {
			next.ServeHTTP(&extensionWriter{ResponseWriter: w}, r)
			return
		}
		id := strings.Trim(r.URL.Path, "/")
		if id == "" { // creation: the pre-create hook authenticates
			if r.Method == http.MethodPost {
				if r.Header.Get("Upload-Defer-Length") != "" {
					// tusd would answer 501, a server failure; it is the
					// client's choice of a feature reel does not offer.
					writeJSONError(w, http.StatusBadRequest, reel.EBADREQUEST,
						"a deferred length (Upload-Defer-Length) is not offered: send Upload-Length, the size of the whole file")
					return
				}
				w.Header().Set("Upload-Expires", time.Now().Add(t.cfg.Expiry).UTC().Format(http.TimeFormat))
				var done func()
				r, done = t.creating.creating(r)
				defer done()
				if final, ok := finalParts(r.Header.Get("Upload-Concat")); ok {
					t.concatenate(w, r, final, next)
					return
				}
			}
			next.ServeHTTP(w, r)
			return
		}
		if strings.Contains(id, "/") {
			writeJSONError(w, http.StatusNotFound, reel.ENOTFOUND, "no such upload")
			return
		}
		uid, err := t.cfg.Authenticate(r)
		if err != nil {
			writeAuthError(w, r, err)
			return
		}
		info, err := t.info(r.Context(), id)
		if err != nil && !errors.Is(err, handler.ErrNotFound) {
			// Not a missing upload, which the client would start again
			// instead of resuming: 503 when the area did not answer (S3
			// down), 500 when it failed (see storeError).
			writeHookError(w, r, err)
			return
		}
		if err != nil || info.MetaData[metaOwner] != strconv.FormatInt(uid, 10) {
			// Someone else's upload is answered as missing: its id is not a secret worth confirming.
			writeJSONError(w, http.StatusNotFound, reel.ENOTFOUND, "no such upload")
			return
		}
		created, _ := strconv.ParseInt(info.MetaData[metaCreated], 10, 64)
		expires := time.Unix(created, 0).Add(t.cfg.Expiry)
		if info.Offset < info.Size || info.SizeIsDeferred {
			if time.Now().After(expires) && r.Method != http.MethodDelete {
				writeJSONError(w, http.StatusGone, reel.ENOTFOUND, "the upload expired: start a new one")
				return
			}
			w.Header().Set("Upload-Expires", expires.UTC().Format(http.TimeFormat))
		} else if r.Method == http.MethodPatch && !info.IsPartial {
			t.finishAgain(w, r, info, uid)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// finishAgain answers a PATCH to a complete upload. tusd would answer 204
// without a word, but the upload's video may still wait to be finished
// because finishing it was refused for a while (a full queue): the client
// repeats its last PATCH, and this tries again.
func (t *tus) finishAgain(w http.ResponseWriter, r *http.Request, info handler.FileInfo, uid int64) {
	id, err := strconv.ParseInt(info.MetaData[metaVideo], 10, 64)
	if err == nil {
		var v *reel.Video
		if v, err = t.cfg.Videos.FindVideoByID(r.Context(), id, uid); err == nil && v.Status == reel.StatusUploading {
			var src string
			if src, err = t.cfg.Area.source(r.Context(), info); err == nil {
				err = t.cfg.Publisher.FinishTus(r.Context(), id, uid, src, info.Size)
			}
		}
		if err != nil && reel.ErrorCode(err) != reel.ENOTFOUND {
			writeHookError(w, r, err)
			return
		}
		w.Header().Set("Video-ID", info.MetaData[metaVideo])
	}
	w.Header().Set("Tus-Resumable", "1.0.0")
	w.Header().Set("Upload-Offset", strconv.FormatInt(info.Offset, 10))
	w.WriteHeader(http.StatusNoContent)
}

// info reads the upload id's info; a failure other than handler.ErrNotFound
// is classified as storeError says, for the one error writer, and is
// otherwise the server's (500).
func (t *tus) info(ctx context.Context, id string) (handler.FileInfo, error) {
	up, err := t.store.GetUpload(ctx, id)
	if err == nil {
		var info handler.FileInfo
		if info, err = up.GetInfo(ctx); err == nil {
			return info, nil
		}
	}
	if errors.Is(err, handler.ErrNotFound) {
		return handler.FileInfo{}, err
	}
	if c, ok := storeError(err); ok {
		return handler.FileInfo{}, c
	}
	return handler.FileInfo{}, httperr.Hide(reel.EINTERNAL, fmt.Errorf("tus: upload area: %w", err))
}

// preCreate authenticates the creator, admits the upload through the
// publisher (queue, quota, pending bytes, disk) and, for a whole upload
// (not a part of a concatenation), creates the video in status uploading
// and answers its id in Video-ID.
func (t *tus) preCreate(hook handler.HookEvent) (handler.HTTPResponse, handler.FileInfoChanges, error) {
	var none handler.FileInfoChanges
	// The session lookup is part of the request: bounded by its deadline,
	// and abandoned with it.
	req := (&http.Request{Header: hook.HTTPRequest.Header}).WithContext(hook.Context)
	uid, err := t.cfg.Authenticate(req)
	if err != nil {
		return handler.HTTPResponse{}, none, authError(err)
	}
	owner := strconv.FormatInt(uid, 10)
	meta := handler.MetaData{metaOwner: owner, metaCreated: strconv.FormatInt(time.Now().Unix(), 10)}
	if name := hook.Upload.MetaData["filename"]; name != "" {
		name = path.Base(strings.ReplaceAll(name, `\`, "/"))
		// No file system names a file longer, and S3 keeps an upload's
		// metadata in 2 KB of headers.
		if len(name) > maxFilenameLen {
			name = strings.ToValidUTF8(name[:maxFilenameLen], "")
		}
		meta["filename"] = name
	}
	ctx := hook.Context
	changes := handler.FileInfoChanges{ID: newUploadID(uid), MetaData: meta}
	if hook.Upload.IsFinal {
		// The parts were claimed for this upload by concatenate.
		c, _ := ctx.Value(claimKey{}).(*claim)
		if c == nil || c.owner != uid {
			return handler.HTTPResponse{}, none, tusError(http.StatusNotFound, reel.ENOTFOUND, "no such partial upload")
		}
	}
	if err := t.admit(ctx, uid, changes.ID, hook.Upload); err != nil {
		return handler.HTTPResponse{}, none, err
	}
	if hook.Upload.IsPartial {
		return handler.HTTPResponse{}, changes, nil
	}
	m := hook.Upload.MetaData
	videoID, err := t.cfg.Publisher.CreateTus(ctx, uid, changes.ID, m["title"], m["description"], m["visibility"])
	if err != nil {
		return handler.HTTPResponse{}, none, hookError(err)
	}
	meta[metaVideo] = strconv.FormatInt(videoID, 10)
	return handler.HTTPResponse{Header: handler.HTTPHeader{"Video-ID": meta[metaVideo]}}, changes, nil
}

// admit asks the publisher to admit upload, to be created as id, with
// uid's pending bytes on this node, and reserves its size until the
// creation request ends: counting and reserving are one step per user, so
// parallel creations count each other (see pending.go).
func (t *tus) admit(ctx context.Context, uid int64, id string, upload handler.FileInfo) error {
	u := t.creating.enter(uid)
	defer t.creating.leave(uid, u)
	pending, err := t.pending(ctx, uid, u)
	if err != nil {
		return err
	}
	var parts []int64
	if c, _ := ctx.Value(claimKey{}).(*claim); c != nil {
		parts = c.sizes
	}
	buffered, err := t.cfg.Area.buffered(upload, parts)
	if err != nil {
		return err
	}
	if err := t.cfg.Publisher.AdmitTus(ctx, uid, upload.Size, pending, !upload.IsPartial, buffered); err != nil {
		return hookError(err)
	}
	t.creating.reserve(ctx, uid, u, id, upload.Size)
	return nil
}

// preFinish runs before the response to the request that completed the
// upload (or created a concatenation): the publisher checks the file and
// the video moves to processing with its job, durably, before the client
// hears that the upload is done. Moving and hashing the file is the job's
// first step.
func (t *tus) preFinish(hook handler.HookEvent) (handler.HTTPResponse, error) {
	if hook.Upload.IsPartial {
		return handler.HTTPResponse{}, nil
	}
	if c, _ := hook.Context.Value(claimKey{}).(*claim); c != nil {
		c.used = true // the parts are copied into this upload
	}
	id, err := strconv.ParseInt(hook.Upload.MetaData[metaVideo], 10, 64)
	if err != nil {
		return handler.HTTPResponse{}, fmt.Errorf("upload %s carries no video id", hook.Upload.ID)
	}
	owner, _ := strconv.ParseInt(hook.Upload.MetaData[metaOwner], 10, 64)
	src, err := t.cfg.Area.source(hook.Context, hook.Upload)
	if err != nil {
		return handler.HTTPResponse{}, err
	}
	err = t.cfg.Publisher.FinishTus(hook.Context, id, owner, src, hook.Upload.Size)
	if err != nil && reel.ErrorCode(err) != reel.ENOTFOUND {
		t.dropDiscarded(hook.Context, id, owner, hook.Upload.ID)
		return handler.HTTPResponse{}, hookError(err)
	}
	return handler.HTTPResponse{Header: handler.HTTPHeader{"Video-ID": hook.Upload.MetaData[metaVideo]}}, nil
}

// dropDiscarded removes upload id when finishing it was refused and its
// video deleted (not a video, over the quota): it goes now, not when a
// worker runs the video's delete job. A refusal that keeps the video (a
// full queue) keeps it.
func (t *tus) dropDiscarded(ctx context.Context, videoID, owner int64, id string) {
	ctx = context.WithoutCancel(ctx)
	if _, err := t.cfg.Videos.FindVideoByID(ctx, videoID, owner); reel.ErrorCode(err) != reel.ENOTFOUND {
		return
	}
	if err := t.cfg.Area.Remove(ctx, id); err != nil {
		httperr.Logger(ctx).WarnContext(ctx, "tus: remove a refused upload", "upload_id", id, "err", err)
	}
}

// preTerminate deletes the video of an upload its owner abandons. The
// upload's files are removed even when the video cannot be (a full disk
// that holds the database too, where freeing the space is the point): the
// video stays in status uploading, which the periodic expiry of unfinished
// uploads deletes (jobs.ExpireUploadsArgs). Only a video found to be
// finished, which needs the file, keeps the upload.
func (t *tus) preTerminate(hook handler.HookEvent) (handler.HTTPResponse, error) {
	id, err := strconv.ParseInt(hook.Upload.MetaData[metaVideo], 10, 64)
	if err != nil {
		return handler.HTTPResponse{}, nil // a part of a concatenation: no video
	}
	owner, _ := strconv.ParseInt(hook.Upload.MetaData[metaOwner], 10, 64)
	v, err := t.cfg.Videos.FindVideoByID(hook.Context, id, owner)
	if reel.ErrorCode(err) == reel.ENOTFOUND {
		return handler.HTTPResponse{}, nil
	}
	if err != nil {
		return handler.HTTPResponse{}, err
	}
	if v.Status != reel.StatusUploading {
		return handler.HTTPResponse{}, tusError(http.StatusConflict, reel.ECONFLICT, "the upload is finished: delete the video instead")
	}
	err = t.cfg.Videos.DeleteVideo(hook.Context, id, owner)
	if err == nil || reel.ErrorCode(err) == reel.ENOTFOUND {
		return handler.HTTPResponse{}, nil
	}
	switch httperr.Resolve(nil, err).Code {
	case reel.EUNAVAILABLE, reel.ESTORAGE, reel.EINTERNAL:
		// The database could not be written, or failed: free the space anyway.
		ctx := hook.Context
		httperr.Logger(ctx).WarnContext(ctx, "tus: the abandoned upload's video is left to expire",
			"request_id", httperr.RequestID(ctx), "video_id", id, "err", err)
		return handler.HTTPResponse{}, nil
	}
	return handler.HTTPResponse{}, err
}

// newUploadID starts with the owner's id, so that pending finds a user's
// uploads without reading everyone's.
func newUploadID(owner int64) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return strconv.FormatInt(owner, 10) + "-" + hex.EncodeToString(b[:])
}

// A part of a concatenation may serve one final upload only, and is
// deleted once it has. The final's creation claims its parts first through
// the area (Area.claim: of two finals naming the same part, one wins, on
// any node sharing the area). After the request the parts are deleted when
// they were copied into the final, and released otherwise.

type claimKey struct{}

type claim struct {
	owner   int64
	parts   []string
	sizes   []int64 // of parts
	settles []func(used bool)
	used    bool
}

// errPartTaken is the claim of a part that another final upload has.
var errPartTaken = errors.New("the partial upload was already used by another upload")

const (
	claimedSuffix = ".claimed"
	// stopFileName marks an upload whose lock another request asks for.
	stopFileName = ".stop"
)

// ClaimedInfoSuffix ends the name of a claimed part's info file: the part
// with id X has its data in X and, while claimed, its info in X + this.
const ClaimedInfoSuffix = ".info" + claimedSuffix

// StopFileSuffix ends the name of the file that marks an upload whose lock
// another request asks for.
const StopFileSuffix = stopFileName

// ClaimLifetime bounds how long a claim lasts: the final's creation request
// that holds it only appends the parts' data files at disk speed, well
// within it. A claimed info file older than this (its modification time is
// when it was claimed) was left by a process that died between claiming
// and joining, and the expired-upload sweep deletes the part.
const ClaimLifetime = time.Hour

// finalParts parses "final;URL URL" into the upload ids it names.
func finalParts(header string) ([]string, bool) {
	rest, ok := strings.CutPrefix(header, "final;")
	if !ok {
		return nil, false
	}
	var ids []string
	for _, u := range strings.Fields(rest) {
		ids = append(ids, path.Base(strings.TrimRight(u, "/")))
	}
	return ids, true
}

// concatenate claims the parts of a final upload for the creation request,
// serves it, and deletes or releases the parts.
func (t *tus) concatenate(w http.ResponseWriter, r *http.Request, parts []string, next http.Handler) {
	uid, err := t.cfg.Authenticate(r)
	if err != nil {
		writeAuthError(w, r, err)
		return
	}
	c := &claim{owner: uid}
	defer t.settle(c)
	seen := map[string]bool{}
	for _, id := range parts {
		info, err := t.info(r.Context(), id)
		if err != nil && !errors.Is(err, handler.ErrNotFound) {
			writeHookError(w, r, err)
			return
		}
		if err != nil || seen[id] || info.MetaData[metaOwner] != strconv.FormatInt(uid, 10) || !info.IsPartial {
			writeJSONError(w, http.StatusNotFound, reel.ENOTFOUND, "no such partial upload: "+id)
			return
		}
		seen[id] = true
		settle, err := t.cfg.Area.claim(r.Context(), t.cfg.Locker, id)
		switch {
		case errors.Is(err, errPartTaken):
			writeJSONError(w, http.StatusNotFound, reel.ENOTFOUND, "the partial upload "+id+" was already used by another upload")
			return
		case err != nil:
			writeHookError(w, r, err)
			return
		}
		c.parts = append(c.parts, id)
		c.sizes = append(c.sizes, info.Size)
		c.settles = append(c.settles, settle)
	}
	// tusd reads the parts' info before the hooks run: it gets them from
	// the claimed copies through this request's context.
	next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimKey{}, c)))
}

// settle deletes the parts a final upload used, and gives back those of a
// creation that failed before using them.
func (t *tus) settle(c *claim) {
	for _, settle := range c.settles {
		settle(c.used)
	}
}

// hookError turns an error of the publisher into the answer tusd sends:
// reel's errors through the one error writer (their status, Retry-After,
// fields); anything else as it is, for the hook wrappers (answered) to
// classify and log with the request's context.
func hookError(err error) error {
	var e *reel.Error
	if errors.As(err, &e) {
		return tusAnswer(nil, err)
	}
	return err
}

// authError is the answer to a failed authentication: 401 with
// WWW-Authenticate when the token is bad; anything else (the sessions'
// store unreachable) is not the client's fault and is answered as it is,
// so that a client does not drop a good token during an outage.
func authError(err error) error {
	if reel.ErrorCode(err) == reel.EUNAUTHORIZED {
		return tusError(http.StatusUnauthorized, reel.EUNAUTHORIZED, reel.ErrorMessage(err), "WWW-Authenticate", `Bearer realm="reel"`)
	}
	return err
}

// writeAuthError is authError outside tusd.
func writeAuthError(w http.ResponseWriter, r *http.Request, err error) {
	if reel.ErrorCode(err) == reel.EUNAUTHORIZED {
		w.Header().Set("WWW-Authenticate", `Bearer realm="reel"`)
	}
	httperr.Write(w, r, err)
}

// writeHookError answers err outside tusd, as the hooks' errors are inside.
func writeHookError(w http.ResponseWriter, r *http.Request, err error) {
	httperr.Write(w, r, err)
}

// tusError is a hook error that tusd answers with reel's JSON error shape
// and the given headers (name, value pairs): tusd sends an error's own
// response, not the one a hook returns beside it.
func tusError(status int, code, message string, headers ...string) handler.Error {
	return tusAnswer(nil, &reel.Error{Code: codeFor(status, code), Message: message}, headers...)
}

// tusAnswer turns any error of a hook into the answer tusd sends, through
// the one error writer: classified (a database that is down is 503), its
// internals logged with the request id and hidden. hook is nil for an
// error built for the client without a request at hand.
func tusAnswer(hook *handler.HookEvent, err error, headers ...string) handler.Error {
	var he handler.Error
	if errors.As(err, &he) {
		return he
	}
	r := &http.Request{Method: http.MethodPost, URL: &url.URL{}, Header: http.Header{}}
	if hook != nil {
		r.Method, r.RemoteAddr, r.Header = hook.HTTPRequest.Method, hook.HTTPRequest.RemoteAddr, hook.HTTPRequest.Header
		if u, perr := url.ParseRequestURI(hook.HTTPRequest.URI); perr == nil {
			r.URL = u
		}
		r = r.WithContext(hook.Context)
	}
	rec := &headerRecorder{header: http.Header{}}
	httperr.Write(rec, r, err)
	h := handler.HTTPHeader{}
	for name := range rec.header {
		h[name] = rec.header.Get(name)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		h[headers[i]] = headers[i+1]
	}
	e := httperr.Resolve(r, err)
	return handler.Error{
		ErrorCode:    e.Code,
		Message:      e.Message,
		HTTPResponse: handler.HTTPResponse{StatusCode: rec.status, Body: rec.body.String(), Header: h},
	}
}

// answered and answeredCreate make a hook's errors go out through tusAnswer.
func answered(hook func(handler.HookEvent) (handler.HTTPResponse, error)) func(handler.HookEvent) (handler.HTTPResponse, error) {
	return func(ev handler.HookEvent) (handler.HTTPResponse, error) {
		resp, err := hook(ev)
		if err != nil {
			return resp, tusAnswer(&ev, err)
		}
		return resp, nil
	}
}

func answeredCreate(hook func(handler.HookEvent) (handler.HTTPResponse, handler.FileInfoChanges, error)) func(handler.HookEvent) (handler.HTTPResponse, handler.FileInfoChanges, error) {
	return func(ev handler.HookEvent) (handler.HTTPResponse, handler.FileInfoChanges, error) {
		resp, changes, err := hook(ev)
		if err != nil {
			return resp, changes, tusAnswer(&ev, err)
		}
		return resp, changes, nil
	}
}

// headerRecorder keeps what httperr.Write answers, for tusd to send.
type headerRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *headerRecorder) Header() http.Header         { return r.header }
func (r *headerRecorder) WriteHeader(status int)      { r.status = status }
func (r *headerRecorder) Write(p []byte) (int, error) { return r.body.Write(p) }

// writeJSONError answers a refusal of the guard in front of tusd.
func writeJSONError(w http.ResponseWriter, status int, code, message string) {
	httperr.Write(w, nil, &reel.Error{Code: codeFor(status, code), Message: message})
}

// codeFor is code, unless the tus protocol needs a status that code does
// not have (410 for an expired upload): then the code of that status,
// which shows as code (httperr folds gone into not_found).
func codeFor(status int, code string) string {
	if httperr.Status(code) == status {
		return code
	}
	return httperr.CodeOf(status)
}

// jsonErrorWriter rewrites tusd's plain-text error answers ("ERR_X: text")
// into the JSON error shape every other route uses. tusd's text of a 5xx
// can name paths and internals: it goes to the log, never to the client.
type jsonErrorWriter struct {
	http.ResponseWriter
	r      *http.Request
	status int
	buf    *bytes.Buffer
}

func (w *jsonErrorWriter) WriteHeader(status int) {
	if status >= 400 && strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		w.status, w.buf = status, new(bytes.Buffer)
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *jsonErrorWriter) Write(p []byte) (int, error) {
	if w.buf != nil {
		return w.buf.Write(p)
	}
	return w.ResponseWriter.Write(p)
}

func (w *jsonErrorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *jsonErrorWriter) finish() {
	if w.buf == nil {
		return
	}
	text := strings.TrimSpace(w.buf.String())
	if _, msg, ok := strings.Cut(text, ": "); ok && strings.HasPrefix(text, "ERR_") {
		text = msg
	}
	code := httperr.CodeOf(w.status)
	var err error = &reel.Error{Code: code, Message: text}
	if w.status >= 500 {
		err = httperr.Hide(code, fmt.Errorf("tus: %s", text))
	}
	httperr.Write(w.ResponseWriter, w.r, err)
}

// extensionWriter adds "expiration" to the extensions tusd announces:
// reel implements it around tusd (Upload-Expires, 410 after expiry, and the
// periodic job that deletes expired uploads).
type extensionWriter struct{ http.ResponseWriter }

func (w *extensionWriter) WriteHeader(status int) {
	if ext := w.Header().Get("Tus-Extension"); ext != "" && !strings.Contains(ext, "expiration") {
		w.Header().Set("Tus-Extension", ext+",expiration")
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *extensionWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

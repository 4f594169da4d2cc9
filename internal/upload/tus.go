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
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/tus/tusd/v2/pkg/filelocker"
	"github.com/tus/tusd/v2/pkg/filestore"
	"github.com/tus/tusd/v2/pkg/handler"
	expslog "golang.org/x/exp/slog"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/httperr"
)

// TusConfig configures the resumable upload endpoint.
type TusConfig struct {
	Dir       string        // where unfinished uploads live
	BasePath  string        // "/api/v1/uploads/"
	MaxSize   int64         // per upload
	Expiry    time.Duration // unfinished uploads expire after this
	MaxQueued int           // new uploads are refused while this many jobs wait
	Videos    reel.VideoService
	// Authenticate returns the user of the request's bearer token.
	Authenticate func(r *http.Request) (int64, error)
	// LogOutput receives tusd's warnings and errors (tusd logs through
	// golang.org/x/exp/slog, not log/slog, and its info lines are per request).
	LogOutput io.Writer
}

// Metadata keys reel keeps on each upload; a client's own metadata is never
// stored as is, so it cannot forge them.
const (
	metaOwner   = "reel_owner"
	metaCreated = "reel_created" // unix seconds
	metaVideo   = "reel_video"
)

// NewTus returns the tus 1.0 handler for cfg.BasePath: tusd with a file store
// and file locks, extended with reel's ownership rules, the Video-ID header,
// the expiration extension and the JSON error shape. Creation, creation with
// upload, termination and concatenation come from tusd.
func NewTus(cfg TusConfig) (http.Handler, error) {
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("upload directory: %w", err)
	}
	composer := handler.NewStoreComposer()
	filestore.New(cfg.Dir).UseIn(composer)
	filelocker.New(cfg.Dir).UseIn(composer)

	t := &tus{cfg: cfg, composer: composer}
	cors := handler.DefaultCorsConfig
	cors.ExposeHeaders += ", Video-ID, Upload-Expires, X-Request-ID"
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
	cfg      TusConfig
	composer *handler.StoreComposer
}

// guard runs before tusd: it checks the token and, for an existing upload,
// that the caller owns it and that it has not expired; it also adds the
// expiration extension's headers and turns tusd's text errors into JSON.
func (t *tus) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
				w.Header().Set("Upload-Expires", time.Now().Add(t.cfg.Expiry).UTC().Format(http.TimeFormat))
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
			w.Header().Set("WWW-Authenticate", `Bearer realm="reel"`)
			writeJSONError(w, http.StatusUnauthorized, reel.EUNAUTHORIZED, reel.ErrorMessage(err))
			return
		}
		info, err := t.info(r.Context(), id)
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
		}
		next.ServeHTTP(w, r)
	})
}

func (t *tus) info(ctx context.Context, id string) (handler.FileInfo, error) {
	up, err := t.composer.Core.GetUpload(ctx, id)
	if err != nil {
		return handler.FileInfo{}, err
	}
	return up.GetInfo(ctx)
}

// preCreate authenticates the creator, validates the metadata and, for a
// whole upload (not a part of a concatenation), creates the video in status
// uploading and answers its id in Video-ID.
func (t *tus) preCreate(hook handler.HookEvent) (handler.HTTPResponse, handler.FileInfoChanges, error) {
	var none handler.FileInfoChanges
	req := &http.Request{Header: hook.HTTPRequest.Header}
	uid, err := t.cfg.Authenticate(req)
	if err != nil {
		return handler.HTTPResponse{}, none,
			tusError(http.StatusUnauthorized, reel.EUNAUTHORIZED, reel.ErrorMessage(err), "WWW-Authenticate", `Bearer realm="reel"`)
	}
	owner := strconv.FormatInt(uid, 10)
	meta := handler.MetaData{metaOwner: owner, metaCreated: strconv.FormatInt(time.Now().Unix(), 10)}
	if name := hook.Upload.MetaData["filename"]; name != "" {
		meta["filename"] = path.Base(strings.ReplaceAll(name, `\`, "/"))
	}
	changes := handler.FileInfoChanges{ID: newUploadID(), MetaData: meta}
	if hook.Upload.IsPartial {
		return handler.HTTPResponse{}, changes, nil
	}
	ctx := hook.Context
	for _, part := range hook.Upload.PartialUploads {
		info, err := t.info(ctx, part)
		if err != nil || info.MetaData[metaOwner] != owner {
			return handler.HTTPResponse{}, none, tusError(http.StatusNotFound, reel.ENOTFOUND, "no such partial upload: "+part)
		}
	}

	title, description := hook.Upload.MetaData["title"], hook.Upload.MetaData["description"]
	visibility := hook.Upload.MetaData["visibility"]
	if visibility == "" {
		visibility = reel.VisibilityPublic
	}
	if err := reel.ValidateVideoText(&title, &description, &visibility); err != nil {
		e := err.(*reel.Error)
		msg := e.Message
		for f, why := range e.Fields {
			msg += fmt.Sprintf("; %s %s", f, why)
		}
		return handler.HTTPResponse{}, none, tusError(http.StatusUnprocessableEntity, reel.EINVALID, msg)
	}
	if t.cfg.MaxQueued > 0 {
		if n, err := t.cfg.Videos.QueuedJobs(ctx); err == nil && n >= t.cfg.MaxQueued {
			return handler.HTTPResponse{}, none,
				tusError(http.StatusServiceUnavailable, reel.EUNAVAILABLE, "too many videos are waiting to be processed; try again shortly", "Retry-After", "30")
		}
	}
	v := &reel.Video{AuthorID: uid, Title: title, Description: description, Visibility: visibility,
		Status: reel.StatusUploading, UploadID: changes.ID}
	if err := t.cfg.Videos.CreateVideo(ctx, v); err != nil {
		return handler.HTTPResponse{}, none, err
	}
	meta[metaVideo] = strconv.FormatInt(v.ID, 10)
	return handler.HTTPResponse{Header: handler.HTTPHeader{"Video-ID": meta[metaVideo]}}, changes, nil
}

// preFinish runs before the response to the request that completed the
// upload: the video moves to processing with its job, durably, before the
// client hears that the upload is done. Moving and hashing the file is the
// job's first step, so the last PATCH is answered at once.
func (t *tus) preFinish(hook handler.HookEvent) (handler.HTTPResponse, error) {
	if hook.Upload.IsPartial {
		return handler.HTTPResponse{}, nil
	}
	id, err := strconv.ParseInt(hook.Upload.MetaData[metaVideo], 10, 64)
	if err != nil {
		return handler.HTTPResponse{}, fmt.Errorf("upload %s carries no video id", hook.Upload.ID)
	}
	err = t.cfg.Videos.FinishUpload(hook.Context, id, "", hook.Upload.Size, "")
	if err != nil && reel.ErrorCode(err) != reel.ENOTFOUND {
		return handler.HTTPResponse{}, err
	}
	return handler.HTTPResponse{Header: handler.HTTPHeader{"Video-ID": hook.Upload.MetaData[metaVideo]}}, nil
}

// preTerminate deletes the video of an upload its owner abandons.
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
	return handler.HTTPResponse{}, t.cfg.Videos.DeleteVideo(hook.Context, id, owner)
}

func newUploadID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// tusError is a hook error that tusd answers with reel's JSON error shape
// and the given headers (name, value pairs): tusd sends an error's own
// response, not the one a hook returns beside it.
func tusError(status int, code, message string, headers ...string) handler.Error {
	return hookError(nil, &reel.Error{Code: codeFor(status, code), Message: message}, headers...)
}

// hookError turns any error of a hook into the answer tusd sends, through
// the one error writer: classified (a database that is down is 503), its
// internals logged with the request id and hidden. hook is nil for an
// error built for the client without a request at hand.
func hookError(hook *handler.HookEvent, err error, headers ...string) handler.Error {
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

// answered and answeredCreate make a hook's errors go out through hookError.
func answered(hook func(handler.HookEvent) (handler.HTTPResponse, error)) func(handler.HookEvent) (handler.HTTPResponse, error) {
	return func(ev handler.HookEvent) (handler.HTTPResponse, error) {
		resp, err := hook(ev)
		if err != nil {
			return resp, hookError(&ev, err)
		}
		return resp, nil
	}
}

func answeredCreate(hook func(handler.HookEvent) (handler.HTTPResponse, handler.FileInfoChanges, error)) func(handler.HookEvent) (handler.HTTPResponse, handler.FileInfoChanges, error) {
	return func(ev handler.HookEvent) (handler.HTTPResponse, handler.FileInfoChanges, error) {
		resp, changes, err := hook(ev)
		if err != nil {
			return resp, changes, hookError(&ev, err)
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

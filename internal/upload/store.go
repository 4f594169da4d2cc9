package upload

import (
	"context"
	"errors"
	"io"

	"github.com/aws/smithy-go"
	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/reel-video/reel/internal/blob"
)

// tusStore is an area's tusd store: core, termination and concatenation.
type tusStore interface {
	handler.DataStore
	handler.TerminaterDataStore
	handler.ConcaterDataStore
}

// classifiedStore is an area's store as tusd gets it: tusd answers any
// error that is not its own handler.Error with 500, so the failures that
// are not the server's fault are turned into answers here, for every area
// and every call (storeError). Its uploads are wrapped too, and unwrapped
// again for the store's own capabilities, which expect its own types.
type classifiedStore struct{ s tusStore }

type classifiedUpload struct{ u handler.Upload }

// composeStore puts s, classified, into c.
func composeStore(c *handler.StoreComposer, s tusStore) {
	cs := classifiedStore{s}
	c.UseCore(cs)
	c.UseTerminater(cs)
	c.UseConcater(cs)
}

// storeError is how a failure of an area's store reaches the client, when
// it is not a server error: a full file system (the disk area, or the
// scratch where s3store buffers parts) is 507, an S3 outage 503 with
// Retry-After. ok is false for anything else (an S3 refusal such as
// AccessDenied, an unreadable .info, a file system error), which stays a
// 500. Only a failed call of the S3 client (a *smithy.OperationError,
// which wraps its transport's failures too) can be an outage: an error
// of a local file, such as an unexpected EOF, is not the store's.
func storeError(err error) (classified error, ok bool) {
	if err == nil {
		return nil, false
	}
	if IsNoSpace(err) {
		return ErrNoSpace(), true
	}
	if _, isS3 := errors.AsType[*smithy.OperationError](err); isS3 {
		if u, isOutage := errors.AsType[*blob.Unavailable](blob.S3Error(err)); isOutage {
			return u, true
		}
	}
	return err, false
}

// failed is err as tusd answers it: classified through the one error
// writer (with the request's id in the log), or left to tusd.
func failed(ctx context.Context, err error) error {
	if _, ok := errors.AsType[handler.Error](err); ok {
		return err
	}
	if c, ok := storeError(err); ok {
		return tusAnswer(&handler.HookEvent{Context: ctx}, c)
	}
	return err
}

func (s classifiedStore) NewUpload(ctx context.Context, info handler.FileInfo) (handler.Upload, error) {
	u, err := s.s.NewUpload(ctx, info)
	if err != nil {
		return nil, failed(ctx, err)
	}
	return classifiedUpload{u}, nil
}

func (s classifiedStore) GetUpload(ctx context.Context, id string) (handler.Upload, error) {
	u, err := s.s.GetUpload(ctx, id)
	if err != nil {
		return nil, failed(ctx, err)
	}
	return classifiedUpload{u}, nil
}

func (s classifiedStore) AsTerminatableUpload(u handler.Upload) handler.TerminatableUpload {
	return classifiedTerminatable{s.s.AsTerminatableUpload(u.(classifiedUpload).u)}
}

func (s classifiedStore) AsConcatableUpload(u handler.Upload) handler.ConcatableUpload {
	return classifiedConcat{s.s.AsConcatableUpload(u.(classifiedUpload).u)}
}

func (u classifiedUpload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	beginWrite(ctx) // tusd has stored src: release requests may pass (gate.go)
	n, err := u.u.WriteChunk(ctx, offset, src)
	return n, failed(ctx, err)
}

func (u classifiedUpload) GetInfo(ctx context.Context) (handler.FileInfo, error) {
	info, err := u.u.GetInfo(ctx)
	return info, failed(ctx, err)
}

func (u classifiedUpload) GetReader(ctx context.Context) (io.ReadCloser, error) {
	r, err := u.u.GetReader(ctx)
	return r, failed(ctx, err)
}

func (u classifiedUpload) FinishUpload(ctx context.Context) error {
	return failed(ctx, u.u.FinishUpload(ctx))
}

type classifiedTerminatable struct{ t handler.TerminatableUpload }

func (t classifiedTerminatable) Terminate(ctx context.Context) error {
	return failed(ctx, t.t.Terminate(ctx))
}

type classifiedConcat struct{ c handler.ConcatableUpload }

// ConcatUploads hands the store the parts as it made them.
func (c classifiedConcat) ConcatUploads(ctx context.Context, parts []handler.Upload) error {
	own := make([]handler.Upload, len(parts))
	for i, p := range parts {
		if cu, ok := p.(classifiedUpload); ok {
			p = cu.u
		}
		own[i] = p
	}
	return failed(ctx, c.c.ConcatUploads(ctx, own))
}

package publish

import (
	"context"

	"github.com/reel-video/reel/internal/upload"
)

var _ upload.Admitter = (*Publisher)(nil)

// AdmitTus admits a tus upload being created: whole uploads count against
// the queue, all against the pending cap, the quota and the disk.
func (p *Publisher) AdmitTus(ctx context.Context, userID, size, pending int64, whole bool) error {
	return p.Admit(ctx, Request{UserID: userID, Size: size, Pending: pending, Tus: true, Job: whole})
}

// CreateTus creates the video of a whole tus upload (see Create).
func (p *Publisher) CreateTus(ctx context.Context, authorID int64, uploadID, title, description, visibility string) (int64, error) {
	v, err := p.Create(ctx, authorID, uploadID, Options{Title: title, Description: description, Visibility: visibility})
	if err != nil {
		return 0, err
	}
	return v.ID, nil
}

// FinishTus completes the video of a finished tus upload (see Finish).
func (p *Publisher) FinishTus(ctx context.Context, videoID, authorID int64, source string, size int64) error {
	return p.Finish(ctx, videoID, authorID, source, size)
}

package reel

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"
)

// Video statuses. A video moves uploading → processing → ready or failed;
// multipart uploads start at processing.
const (
	StatusUploading  = "uploading"
	StatusProcessing = "processing"
	StatusReady      = "ready"
	StatusFailed     = "failed"
)

// Visibilities. Unlisted videos are reachable by id but appear in no list;
// private ones only to their owner.
const (
	VisibilityPublic   = "public"
	VisibilityUnlisted = "unlisted"
	VisibilityPrivate  = "private"
)

// Limits on the text a video carries.
const (
	MaxTitleLen       = 150  // characters
	MaxDescriptionLen = 5000 // characters
)

// Video is one uploaded clip and what reel made of it. The *Key fields name
// blobs; the HTTP layer turns them into signed URLs (CoverURL, PlayURL,
// HLSURL), so the store never deals in URLs.
type Video struct {
	ID          int64  `json:"id"`
	AuthorID    int64  `json:"-"`
	Author      *User  `json:"author"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Visibility  string `json:"visibility"`
	Status      string `json:"status"`
	Progress    int    `json:"progress"`
	Error       string `json:"error"`
	DurationMS  int64  `json:"duration_ms"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	SizeBytes   int64  `json:"size_bytes,omitempty"` // of the original: its owner and admins only
	SHA256      string `json:"sha256,omitempty"`     // likewise; the HTTP layer clears both for others
	// ShownBlocked is Blocked as its owner and administrators see it: the
	// HTTP layer sets it for them only (nil, and omitted, for the rest, to
	// whom a blocked video does not exist).
	ShownBlocked *bool       `json:"blocked,omitempty"`
	CreatedAt    time.Time   `json:"created_at"`
	CoverURL     string      `json:"cover_url"`
	PlayURL      string      `json:"play_url"`
	HLSURL       string      `json:"hls_url"`
	Renditions   []Rendition `json:"renditions"`
	Captions     []Caption   `json:"captions"`

	// DashURL, StoryboardURL and PreviewURL are "" until the video is
	// ready: the DASH MPD (over the same segments as HLS), the storyboard's
	// WebVTT (whose cues name sprite sheets beside it) and the animated
	// WebP preview. HLSURL comes earlier: while the video is processing it
	// names the early master (live.m3u8) once the first segments are out.
	DashURL       string `json:"dash_url"`
	StoryboardURL string `json:"storyboard_url"`
	PreviewURL    string `json:"preview_url"`

	LikeCount        int64 `json:"like_count"`
	CommentCount     int64 `json:"comment_count"`
	ViewCount        int64 `json:"view_count"`
	IsLiked          bool  `json:"is_liked"`
	ResumePositionMS int64 `json:"resume_position_ms"`

	UploadID    string `json:"-"` // the tus upload that carries the original, if any
	OriginalKey string `json:"-"`
	CoverKey    string `json:"-"` // JPEG; the WebP sits beside it with the .webp extension
	PlayKey     string `json:"-"` // progressive MP4
	HLSKey      string `json:"-"` // master playlist: hls/live.m3u8 while processing, then hls/master.m3u8
	Blocked     bool   `json:"-"`

	DashKey       string `json:"-"` // the DASH MPD
	StoryboardKey string `json:"-"` // the storyboard's WebVTT
	PreviewKey    string `json:"-"` // the animated preview

	// MediaGeneration is what media URLs are signed for; making the video
	// private moves it on, which revokes the URLs handed out before.
	MediaGeneration int64 `json:"-"`
	// Stamp names the cached card this video is a copy of (0: it is not):
	// two videos with the same stamp differ at most in a viewer's flags
	// and what the HTTP layer adds, so what is derived from the card alone
	// (its encoded JSON) can be kept under it.
	Stamp uint64 `json:"-"`
}

// Rendition is one rung of the HLS ladder.
type Rendition struct {
	Width     int `json:"width"`
	Height    int `json:"height"`
	Bandwidth int `json:"bandwidth"`
}

// VideoUpdate holds the fields a PATCH may change; nil means unchanged.
type VideoUpdate struct {
	Title       *string `json:"title"`
	Description *string `json:"description"`
	Visibility  *string `json:"visibility"`
}

// Processed is what the pipeline reports about a video. Zero fields are left
// as they are, so each step reports only what it learnt.
type Processed struct {
	OriginalKey string // with its size and hash, once a tus upload is moved in
	SizeBytes   int64
	SHA256      string
	Status      string
	Progress    *int
	Error       *string
	DurationMS  int64
	Width       int
	Height      int
	CoverKey    string
	PlayKey     string
	HLSKey      string
	Renditions  []Rendition

	DashKey       string
	StoryboardKey string
	PreviewKey    string
	// ClearFiles empties every file key (original, cover, MP4, HLS, DASH,
	// storyboard, preview) and the renditions, whatever the keys above say:
	// the video's files were refused and are deleted, and no URL may point
	// at them.
	ClearFiles bool
	// ClearHLS empties the HLS key: an attempt that had published its
	// early master (live.m3u8) stopped, so its live playlists will not
	// grow, and the next attempt publishes its own from the start.
	ClearHLS bool
}

// VideoService stores videos. Reads filter by viewer: a private video is
// ENOTFOUND to everyone but its author.
type VideoService interface {
	// CreateVideo stores v (AuthorID, texts, Status, keys, UploadID) and sets
	// its ID and CreatedAt. A video created as processing gets its processing
	// job in the same transaction.
	CreateVideo(ctx context.Context, v *Video) error
	// FinishUpload moves an uploading video to processing, records the size
	// and hash of its original, and enqueues its processing job, atomically.
	// It answers the video as its author sees it, read before the commit, so
	// that an upload that was accepted is never answered with an error.
	FinishUpload(ctx context.Context, id int64, originalKey string, size int64, sha256 string) (*Video, error)
	FindVideoByID(ctx context.Context, id, viewerID int64) (*Video, error)
	FindVideoByUploadID(ctx context.Context, uploadID string) (*Video, error)
	UpdateVideo(ctx context.Context, id, actorID int64, upd VideoUpdate) (*Video, error)
	// DeleteVideo removes the video, its pending jobs, and (through a job in
	// the same transaction) every stored file. Only the author or an admin may.
	DeleteVideo(ctx context.Context, id, actorID int64) error
	// ListUserVideos lists a user's videos newest first; the author also sees
	// unfinished and private ones. cursor is opaque; "" starts at the newest.
	ListUserVideos(ctx context.Context, userID, viewerID int64, cursor string, limit int) ([]*Video, string, error)
	// SetProcessed records what the pipeline learnt (see Processed).
	SetProcessed(ctx context.Context, id int64, p Processed) error
	// QueuedJobs counts processing jobs that wait to run, for backpressure.
	QueuedJobs(ctx context.Context) (int, error)
}

// ValidateVideoText checks title, description and visibility of an upload or
// an update, returning EINVALID naming each bad field.
func ValidateVideoText(title, description, visibility *string) error {
	fields := map[string]string{}
	if title != nil {
		if !utf8.ValidString(*title) || utf8.RuneCountInString(*title) > MaxTitleLen {
			fields["title"] = fmt.Sprintf("must be valid UTF-8 of at most %d characters", MaxTitleLen)
		}
	}
	if description != nil {
		if !utf8.ValidString(*description) || utf8.RuneCountInString(*description) > MaxDescriptionLen {
			fields["description"] = fmt.Sprintf("must be valid UTF-8 of at most %d characters", MaxDescriptionLen)
		}
	}
	if visibility != nil {
		switch *visibility {
		case VisibilityPublic, VisibilityUnlisted, VisibilityPrivate:
		default:
			fields["visibility"] = "must be public, unlisted or private"
		}
	}
	return Invalid(fields)
}

// PlaybackService stores what viewing produces and the moderation of media.
type PlaybackService interface {
	// SetBlocked blocks (or unblocks) a video: its media answer 403 and it
	// leaves every list.
	SetBlocked(ctx context.Context, videoID int64, blocked bool) error
	// MediaRevocations lists the revocations changed at or after since and,
	// when blocked is true, every blocked video as well, for the nodes'
	// in-memory copies.
	MediaRevocations(ctx context.Context, since time.Time, blocked bool) ([]MediaRevocation, error)
	// ListBlockedVideos lists the blocked videos, newest first, as viewerID
	// (an administrator) sees them. cursor is opaque; "" starts at the newest.
	ListBlockedVideos(ctx context.Context, viewerID int64, cursor string, limit int) ([]*Video, string, error)
	// PruneMediaRevocations forgets the revocations of unblocked videos that
	// last changed before the given time: no URL they revoke still works.
	PruneMediaRevocations(ctx context.Context, before time.Time) error
	// AddViews adds aggregated view counts, one batch at a time.
	AddViews(ctx context.Context, counts map[int64]int64) error
	// SaveProgress records a viewer's position in a video.
	SaveProgress(ctx context.Context, userID, videoID, positionMS int64) error
}

// MediaRevocation says which of a video's signed media URLs no longer work:
// all of them while it is blocked or once it is deleted, else those signed
// for a generation before Generation.
type MediaRevocation struct {
	VideoID    int64
	Generation int64
	Blocked    bool
	Deleted    bool
	ChangedAt  time.Time
}

// Keys of a video's files in the blob store. Everything of video 42 lies
// under videos/42/, so deleting that prefix removes it all.

// VideosKeyPrefix is the prefix of the files of every video.
const VideosKeyPrefix = "videos/"

// VideoKeyPrefix is the prefix of every file of video id.
func VideoKeyPrefix(id int64) string { return fmt.Sprintf("%s%d/", VideosKeyPrefix, id) }

// OriginalKey is the uploaded file (publishing may add the container's extension).
func OriginalKey(id int64) string { return VideoKeyPrefix(id) + "original" }

// CoverKey is the cover in the format ext ("jpg" or "webp").
func CoverKey(id int64, ext string) string { return VideoKeyPrefix(id) + "cover." + ext }

// PlayKey is the progressive MP4.
func PlayKey(id int64) string { return VideoKeyPrefix(id) + "play.mp4" }

// HLSKeyPrefix holds the master playlist, the variant playlists and their segments.
func HLSKeyPrefix(id int64) string { return VideoKeyPrefix(id) + "hls/" }

// ViewerFlags are what a signed-in viewer's answers about some videos
// depend on beyond the videos themselves, as read at one moment: which of
// the videos they like and where they stopped in them, which of the
// authors they follow, their own video count (an author sees their own
// videos counted, not only the listed ones) and whether they are an
// administrator. Every video and author asked about has an entry in Liked
// and Following (false when not liked or followed), so that a cache knows
// what it was asked and what not.
type ViewerFlags struct {
	ViewerID  int64
	Admin     bool
	Liked     map[int64]bool  // video → liked
	Positions map[int64]int64 // video → resume position, when there is one
	Following map[int64]bool  // author → followed
	OwnVideos int64           // when the viewer is among the authors asked about
}

// NewViewerFlags returns the flags of viewerID for videoIDs by authorIDs,
// all false, for a store to fill.
func NewViewerFlags(viewerID int64, videoIDs, authorIDs []int64) *ViewerFlags {
	f := &ViewerFlags{ViewerID: viewerID, Liked: make(map[int64]bool, len(videoIDs)),
		Positions: map[int64]int64{}, Following: make(map[int64]bool, len(authorIDs))}
	for _, id := range videoIDs {
		f.Liked[id] = false
	}
	for _, id := range authorIDs {
		f.Following[id] = false
	}
	return f
}

// Knows reports whether f was read for v (its video and its author).
func (f *ViewerFlags) Knows(v *Video) bool {
	if _, ok := f.Liked[v.ID]; !ok {
		return false
	}
	_, ok := f.Following[v.AuthorID]
	return ok
}

// Apply sets the flags on videos, whose authors are loaded.
func (f *ViewerFlags) Apply(videos ...*Video) {
	for _, v := range videos {
		v.IsLiked = f.Liked[v.ID]
		v.ResumePositionMS = f.Positions[v.ID]
		if a := v.Author; a != nil {
			a.IsFollowing = f.Following[a.ID]
			if a.ID == f.ViewerID {
				a.VideoCount = f.OwnVideos
			}
		}
	}
}

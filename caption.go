package reel

import "context"

// Caption is one language of subtitles of a video: a WebVTT file the owner
// uploaded (as WebVTT or SRT). The HTTP layer signs URL from Key.
type Caption struct {
	Lang  string `json:"lang"`  // a canonical BCP 47 tag: "en", "pt-BR", "zh-Hans"
	Label string `json:"label"` // the name players show
	URL   string `json:"url"`   // signed URL of the WebVTT file
	// Key names the WebVTT file. Every upload gets a new name (see
	// CaptionKey), so a file is never replaced under a name that players
	// or caches may already hold, and removing a replaced or deleted
	// caption's files can never remove a newer upload's.
	Key       string `json:"-"`
	SizeBytes int64  `json:"-"`
}

// MaxCaptionsPerVideo bounds the languages of one video.
const MaxCaptionsPerVideo = 50

// CaptionService stores which captions a video has; their files are in the
// blob store under CaptionKeyPrefix.
type CaptionService interface {
	// PutCaption records c (Lang, Label, Key, SizeBytes) on a video whose
	// author is actorID, replacing the caption of the same language, and
	// returns the replaced one (nil when there was none), whose files the
	// caller removes. Others get ENOTFOUND (a private video) or EFORBIDDEN;
	// over MaxCaptionsPerVideo languages ECONFLICT.
	PutCaption(ctx context.Context, videoID, actorID int64, c Caption) (replaced *Caption, err error)
	// DeleteCaption removes the caption of lang and returns it (nil when
	// there was none), under the same rule as PutCaption.
	DeleteCaption(ctx context.Context, videoID, actorID int64, lang string) (*Caption, error)
	// ListCaptions lists a video's captions by language, whoever asks.
	ListCaptions(ctx context.Context, videoID int64) ([]Caption, error)
}

// CaptionKeyPrefix holds a video's caption files: beside the HLS master,
// so that the master's signature covers them.
func CaptionKeyPrefix(id int64) string { return HLSKeyPrefix(id) + "captions/" }

// CaptionKey is the WebVTT file of one upload (rev) of lang's captions;
// its one-segment HLS playlist has the same name ending in .m3u8.
func CaptionKey(id int64, lang, rev string) string {
	return CaptionKeyPrefix(id) + lang + "." + rev + ".vtt"
}

package jobs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/media"
)

// Early playback. A source that cannot be remuxed (HEVC, VP9, AV1...) has
// nothing playable until the ladder has encoded something, and the ladder
// of a long clip takes a while. ffmpeg writes each rendition's playlist as
// it goes (an EVENT playlist: segments are only ever appended), so while it
// runs a liveWatcher stores each finished segment and then a copy of the
// growing playlist as {dir}/live.m3u8; once every rendition the early
// master names has a segment, it stores that master (hls/live.m3u8,
// media.LiveMaster) and records
// it as the video's HLS master, its status still processing. A player that
// starts there follows the playlists as they grow, and at the end finds
// them complete with #EXT-X-ENDLIST, so it plays to the end; the video then
// switches to the final master (VOD playlists, measured bandwidths).
//
// The early master names the lowest rung alone (and the audio): the job
// has the ladder encode that rung in an ffmpeg process of its own
// (media.LadderOptions.FastFirstRung), which a 1080p source's large rungs,
// encoded in lockstep in the other process, would otherwise hold back by
// seconds. That costs a second decode of the source, and only for sources
// that cannot be remuxed: the others have their MP4 to play meanwhile.

// livePoll is how often the watcher looks at the ladder's output: it adds
// half of it, on average, to the time to the first playable segment, and a
// listing and a small read per rendition (two, early) cost next to nothing.
const livePoll = 100 * time.Millisecond

const (
	liveName        = reel.LiveName // the growing copy of a playlist, and the early master
	ladderPlaylist  = "index.m3u8"  // what ffmpeg writes in each rendition's directory
	eventTypeTag    = "#EXT-X-PLAYLIST-TYPE:EVENT"
	playlistTypeTag = "#EXT-X-PLAYLIST-TYPE:"
	endListTag      = "#EXT-X-ENDLIST"
)

// LiveKey is the early HLS master of video id.
func LiveKey(id int64) string { return reel.HLSKeyPrefix(id) + liveName }

// liveWatcher publishes the outputs of a ladder while ffmpeg writes them
// (see above). Its loop runs between start and finish (or stop); finish
// then publishes the rest, with the playlists complete. It stores through
// out, which remembers what is stored, so the job does not store it twice.
type liveWatcher struct {
	w      *processWorker
	id     int64
	out    *outputs
	master []byte // the early master
	// gone is called when the video turned out deleted: the ladder stops.
	gone func(error)

	renditions []*liveRendition
	published  bool // the early master is stored and recorded
	// live is closed once the early master is recorded.
	live chan struct{}

	cancel context.CancelFunc
	done   chan struct{}
}

// liveRendition is one playlist the early master names.
type liveRendition struct {
	dir      string // relative to the output directory: "240p", "audio"
	segments int    // how many the stored live playlist names
}

// newLiveWatcher prepares the watcher of the ladder writing into dir, whose
// early master is master: the renditions to follow are the playlists it
// names, so the naming rule lives in one place (media.LiveMaster).
func (w *processWorker) newLiveWatcher(id int64, out *outputs, master []byte, gone func(error)) (*liveWatcher, error) {
	lw := &liveWatcher{w: w, id: id, out: out, master: master, gone: gone, live: make(chan struct{})}
	for _, uri := range media.MasterURIs(master) {
		d, name := path.Split(uri)
		d = strings.TrimSuffix(d, "/")
		if name != liveName || !media.PlainName(d) {
			return nil, fmt.Errorf("early master names %q, not {dir}/%s", uri, liveName)
		}
		lw.renditions = append(lw.renditions, &liveRendition{dir: d})
	}
	if len(lw.renditions) == 0 {
		return nil, errors.New("early master names no playlist")
	}
	return lw, nil
}

// start runs the watcher's loop until stop or finish.
func (lw *liveWatcher) start(ctx context.Context) {
	// OnLive gets the job's context, not the loop's: stopping the loop
	// (finish) waits for OnLive instead of cutting it short.
	parent := ctx
	ctx, lw.cancel = context.WithCancel(ctx)
	lw.done = make(chan struct{})
	go func() {
		defer close(lw.done)
		t := time.NewTicker(livePoll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := lw.sync(ctx, parent, false); err != nil && ctx.Err() == nil {
				// Not fatal: what is not stored now is stored by finish.
				lw.w.log.Warn("publish the ladder's output early", "video_id", lw.id, "err", err)
			}
		}
	}()
}

// stop ends the loop and waits for it: nothing is stored after stop
// returns. It may be called more than once.
func (lw *liveWatcher) stop() {
	if lw.cancel != nil {
		lw.cancel()
		<-lw.done
	}
}

// finish stops the loop and publishes everything the ladder wrote into the
// renditions: the segments not stored yet, then the playlists complete,
// with #EXT-X-ENDLIST (and the early master, if the ladder was quicker
// than the loop).
func (lw *liveWatcher) finish(ctx context.Context) error {
	lw.stop()
	return lw.sync(ctx, ctx, true)
}

// sync publishes what the renditions have gained since the last call. ended
// says the ladder is done: the playlists are then stored complete. OnLive
// runs under hookCtx.
func (lw *liveWatcher) sync(ctx, hookCtx context.Context, ended bool) error {
	ready := 0
	for _, r := range lw.renditions {
		if err := lw.syncRendition(ctx, r, ended); err != nil {
			return err
		}
		if r.segments > 0 {
			ready++
		}
	}
	if lw.published || ready < len(lw.renditions) {
		return nil
	}
	if _, err := lw.w.blobs.Put(ctx, LiveKey(lw.id), bytes.NewReader(lw.master)); err != nil {
		return fmt.Errorf("store the early master: %w", err)
	}
	err := lw.w.store.SetProcessed(ctx, lw.id, reel.Processed{HLSKey: LiveKey(lw.id)})
	if reel.ErrorCode(err) == reel.ENOTFOUND {
		lw.gone(err)
	}
	if err != nil {
		return err
	}
	lw.published = true
	close(lw.live)
	if lw.w.cfg.OnLive != nil {
		lw.w.cfg.OnLive(hookCtx, lw.id)
	}
	return nil
}

// syncRendition stores the segments r's playlist lists that are not stored
// yet (its init segment first), then the playlist as live.m3u8, which
// therefore never names a segment that is not there.
func (lw *liveWatcher) syncRendition(ctx context.Context, r *liveRendition, ended bool) error {
	data, err := os.ReadFile(filepath.Join(lw.out.dir, r.dir, ladderPlaylist))
	if errors.Is(err, fs.ErrNotExist) && !ended {
		return nil // no segment yet
	}
	if err != nil {
		return err
	}
	pl, err := parseLivePlaylist(data)
	if err != nil {
		return err
	}
	if len(pl.entries) == 0 || (len(pl.entries) == r.segments && !ended) {
		return nil
	}
	var keyPaths []string
	add := func(uri string) {
		rel := path.Join(r.dir, uri)
		if !lw.out.isStored(rel) {
			keyPaths = append(keyPaths, reel.HLSKeyPrefix(lw.id)+rel, lw.out.path(rel))
		}
	}
	// The init segment first: every media segment needs it.
	if pl.init != "" {
		add(pl.init)
		if err := lw.out.put(ctx, keyPaths...); err != nil {
			return err
		}
		keyPaths = keyPaths[:0]
	}
	for _, e := range pl.entries {
		add(e.uri)
	}
	if err := lw.out.put(ctx, keyPaths...); err != nil {
		return err
	}
	key := reel.HLSKeyPrefix(lw.id) + path.Join(r.dir, liveName)
	if _, err := lw.w.blobs.Put(ctx, key, bytes.NewReader(pl.render(ended))); err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	r.segments = len(pl.entries)
	return nil
}

// outputs stores files of the ladder's output directory and remembers
// which it stored. It leaves them in place: ffmpeg's output is read again
// after it is stored (the ladder measures its segments, the MPD and the
// preview read them).
type outputs struct {
	w       *processWorker
	dir     string // the ladder's output directory
	staging string // where the links handed to PutFile wait
	links   atomic.Int64

	mu     sync.Mutex
	stored map[string]bool // slash-separated paths relative to dir
}

func (w *processWorker) newOutputs(dir, staging string) (*outputs, error) {
	if err := os.MkdirAll(staging, 0o700); err != nil {
		return nil, err
	}
	return &outputs{w: w, dir: dir, staging: staging, stored: map[string]bool{}}, nil
}

// path is the local path of rel.
func (o *outputs) path(rel string) string { return filepath.Join(o.dir, filepath.FromSlash(rel)) }

// isStored reports whether the file at rel is in the store already.
func (o *outputs) isStored(rel string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.stored[rel]
}

// put stores files of the directory, given as key, path pairs, like
// processWorker.put. Each file is hard-linked into the staging directory
// and the link handed to PutFile, which on disk is a rename: no byte is
// copied. Where links cannot be made, the file is copied by Put.
func (o *outputs) put(ctx context.Context, keyPaths ...string) error {
	pairs := make([]string, 0, len(keyPaths))
	var copies []string
	for i := 0; i+1 < len(keyPaths); i += 2 {
		link := filepath.Join(o.staging, strconv.FormatInt(o.links.Add(1), 10))
		if err := os.Link(keyPaths[i+1], link); err != nil {
			copies = append(copies, keyPaths[i], keyPaths[i+1])
			continue
		}
		pairs = append(pairs, keyPaths[i], link)
	}
	if err := o.w.put(ctx, pairs...); err != nil {
		return err
	}
	for i := 0; i+1 < len(copies); i += 2 {
		if err := o.w.putCopy(ctx, copies[i], copies[i+1]); err != nil {
			return err
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := 1; i < len(keyPaths); i += 2 {
		if rel, err := filepath.Rel(o.dir, keyPaths[i]); err == nil {
			o.stored[filepath.ToSlash(rel)] = true
		}
	}
	return nil
}

// putCopy stores a copy of the file at path under key.
func (w *processWorker) putCopy(ctx context.Context, key, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := w.blobs.Put(ctx, key, f); err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	return nil
}

// livePlaylist is what a rendition's playlist held when it was read:
// ffmpeg may be rewriting it, so only complete lines count, and a segment
// counts once its URI line is complete (ffmpeg lists a segment only once
// the file is written).
type livePlaylist struct {
	header  []string // the lines before the first segment, without the playlist type
	init    string   // the URI of #EXT-X-MAP, "" if none
	entries []liveEntry
}

// liveEntry is one segment: its tags (#EXTINF and any before it) and URI.
type liveEntry struct {
	lines []string
	uri   string
}

// parseLivePlaylist reads the complete lines of data. A URI that is not a
// plain name in the playlist's directory is refused: the watcher stores
// what a playlist names, and ffmpeg writes nothing else.
func parseLivePlaylist(data []byte) (*livePlaylist, error) {
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i+1]
	} else {
		data = nil
	}
	pl := &livePlaylist{}
	var pending []string
	body := false // past the header: every tag belongs to the next segment
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line == endListTag || strings.HasPrefix(line, playlistTypeTag):
		case strings.HasPrefix(line, "#EXTINF:") || (body && strings.HasPrefix(line, "#")):
			body = true
			pending = append(pending, line)
		case strings.HasPrefix(line, "#EXT-X-MAP:"):
			uri, ok := media.HLSAttribute(line, "URI")
			if !ok || !media.PlainName(uri) {
				return nil, fmt.Errorf("playlist names an init segment %q", line)
			}
			pl.init = uri
			pl.header = append(pl.header, line)
		case strings.HasPrefix(line, "#"):
			pl.header = append(pl.header, line)
		default:
			if !media.PlainName(line) {
				return nil, fmt.Errorf("playlist names a segment %q", line)
			}
			body = true
			pl.entries = append(pl.entries, liveEntry{lines: append(pending, line), uri: line})
			pending = nil
		}
	}
	return pl, sc.Err()
}

// render writes the playlist as an EVENT playlist (ended: complete, with
// #EXT-X-ENDLIST). Every version is the previous one with lines appended,
// as an EVENT playlist must be, whatever type ffmpeg's copy declares (the
// ladder turns it into VOD at the end).
func (pl *livePlaylist) render(ended bool) []byte {
	var b bytes.Buffer
	for i, line := range pl.header {
		b.WriteString(line + "\n")
		if i == 0 {
			b.WriteString(eventTypeTag + "\n")
		}
	}
	for _, e := range pl.entries {
		for _, line := range e.lines {
			b.WriteString(line + "\n")
		}
	}
	if ended {
		b.WriteString(endListTag + "\n")
	}
	return b.Bytes()
}

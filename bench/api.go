package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/auth"
	"github.com/reel-video/reel/internal/jobs"
	"github.com/reel-video/reel/internal/sqlstore"
)

// apiSecret is REEL_SECRET for the API scenarios.
const apiSecret = "reel-bench-api-secret-0123456789-abcdefghijklmnop"

// apiPassword is every bench user's password.
const apiPassword = "bench-password"

// feedPage is the feed's default page size: its first page is what is loaded.
const feedPage = 20

// benchRateLimits raise the API budgets far above what wrk reaches from its
// one address (tens of thousands of requests a second against defaults of
// 3000 reads and 600 writes a minute), instead of turning them off: every
// measured request still pays for the limiter, and none is refused.
var benchRateLimits = []string{"REEL_API_READ_LIMIT=1000000/1s", "REEL_API_WRITE_LIMIT=1000000/1s",
	"REEL_API_UPLOAD_LIMIT=1000000/1s"}

// apiOptions size the API scenarios.
type apiOptions struct {
	wrkFor time.Duration // one measured wrk run
	warmup time.Duration // an unmeasured wrk run of each script before the loads
	conns  []int
	videos int // created by one author; the feed's first page shows the newest feedPage
	likers int // users of the like/unlike mix
	// baselineEach measures the trivial handler right before every scenario;
	// otherwise once per connection count (smoke mode, to stay short).
	baselineEach bool
}

func fullAPI() apiOptions {
	return apiOptions{wrkFor: 8 * time.Second, warmup: 2 * time.Second, conns: []int{64, 256},
		videos: 25, likers: 20, baselineEach: true}
}

func smokeAPI() apiOptions {
	return apiOptions{wrkFor: time.Second, conns: []int{8}, videos: 25, likers: 20}
}

// apiData is what the scenarios were given before the server started.
type apiData struct {
	authorID   int64
	viewer     string // follows the author and likes some of the first page
	likers     []string
	page       []int64        // the feed's first page, newest first
	viewerLike map[int64]bool // the videos the viewer likes
}

// benchAPI loads the JSON API with wrk: the feed's first page anonymously
// and with a viewer, a video card, and a like/unlike mix, each beside
// GET /healthz on the same server under the same load. /healthz answers
// {"status":"ok"} through the server's global middleware (request id,
// metrics and access log, recovery, connection deadlines), so the ratio is
// what the endpoint costs beyond serving a request at all; /api/v1 routes
// add their group's deadline, body limit, gzip (wrk asks for none) and
// authentication. The server logs at warn, so that neither side writes an
// access log line per request.
//
// The scenarios run twice, on fresh data each time: with the embedded
// default (every cache and limit in the process) and with REEL_REDIS_URL
// naming a Redis the bench starts on loopback, as several nodes would run;
// the rows of the second are marked "redis".
func benchAPI(ctx context.Context, o options, dir string, out io.Writer) error {
	if err := benchAPIOn(ctx, o, filepath.Join(dir, "local"), out, ""); err != nil {
		return err
	}
	rdb, err := startRedis(filepath.Join(dir, "redis"))
	if err != nil {
		return err
	}
	defer rdb.Kill()
	fmt.Fprintf(out, "api: the same scenarios with REEL_REDIS_URL (redis-server %s on loopback)\n", rdb.Version)
	return benchAPIOn(ctx, o, filepath.Join(dir, "redis"), out, rdb.URL)
}

// benchAPIOn runs the API scenarios on a fresh server, with Redis at
// redisURL unless it is empty.
func benchAPIOn(ctx context.Context, o options, dir string, out io.Writer, redisURL string) error {
	a := o.api
	wrkBin, err := exec.LookPath("wrk")
	if err != nil {
		return fmt.Errorf("wrk is missing: apt-get install -y wrk")
	}
	data, err := filepath.Abs(filepath.Join(dir, "data"))
	if err != nil {
		return err
	}
	dbURL := "sqlite://" + filepath.Join(data, "reel.db")
	seed, err := seedAPI(ctx, dbURL, a)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	env := []string{"REEL_WORKERS=0", "REEL_SECRET=" + apiSecret, "REEL_DATABASE_URL=" + dbURL, "REEL_LOG_LEVEL=warn"}
	env = append(env, benchRateLimits...)
	kind := ""
	if redisURL != "" {
		env, kind = append(env, "REEL_REDIS_URL="+redisURL), "redis: "
	}
	srv, err := startServer(o.bin, data, env...)
	if err != nil {
		return err
	}
	defer srv.stop()

	tokens, err := login(srv.url, append([]string{seed.viewer}, seed.likers...))
	if err != nil {
		return err
	}
	viewerToken, likerTokens := tokens[0], tokens[1:]
	if err := checkAPI(srv.url, seed, viewerToken, likerTokens[0]); err != nil {
		return err
	}

	script := func(name string) string { return filepath.Join(dir, name+".lua") }
	cards := make([]luaRequest, len(seed.page))
	for i, id := range seed.page {
		cards[i] = luaRequest{"GET", fmt.Sprintf("/api/v1/videos/%d", id), ""}
	}
	for name, reqs := range map[string][]luaRequest{
		"healthz":     {{"GET", "/healthz", ""}},
		"feed-anon":   {{"GET", "/api/v1/feed", ""}},
		"feed-viewer": {{"GET", "/api/v1/feed", viewerToken}},
		"card":        cards,
	} {
		if err := writeCycleScript(script(name), reqs); err != nil {
			return err
		}
	}
	if err := writeLikeMixScript(script("likes"), likerTokens, seed.page); err != nil {
		return err
	}
	// Whoever likes a video of the page, after the mix: its likers and the viewer.
	everyone := append([]string{viewerToken}, likerTokens...)

	if redisURL == "" {
		fmt.Fprintf(out, "%s\n", "api: baseline GET /healthz ({\"status\":\"ok\"}) on the same server through the same global middleware; server at REEL_LOG_LEVEL=warn (no access log lines)")
	}
	w := wrk{bin: wrkBin}
	scenarios := []struct {
		name, script string
		likes        bool
	}{
		{fmt.Sprintf("feed (%d videos), anonymous", feedPage), "feed-anon", false},
		{fmt.Sprintf("feed (%d videos), viewer", feedPage), "feed-viewer", false},
		{"video card", "card", false},
		{"like/unlike mix", "likes", true},
	}
	if a.warmup > 0 {
		for _, s := range []string{"healthz", "feed-anon", "feed-viewer", "card", "likes"} {
			if _, err := w.run(ctx, srv.url, a.conns[0], a.warmup, script(s)); err != nil {
				return fmt.Errorf("warm-up of %s: %w", s, err)
			}
		}
	}
	for _, c := range a.conns {
		var base wrkResult
		for i, s := range scenarios {
			if i == 0 || a.baselineEach {
				if base, err = w.run(ctx, srv.url, c, a.wrkFor, script("healthz")); err != nil {
					return fmt.Errorf("healthz, %d conns: %w", c, err)
				}
			}
			// Any non-2xx/3xx answer or socket error fails the run (wrk.run).
			r, err := w.run(ctx, srv.url, c, a.wrkFor, script(s.script))
			if err != nil {
				return fmt.Errorf("%s, %d conns: %w", s.name, c, err)
			}
			label := fmt.Sprintf("%s%s, %d conns", kind, s.name, c)
			row(out, label+": req/s", fmt.Sprintf("%.0f", r.reqPerSec()), fmt.Sprintf("%.0f healthz", base.reqPerSec()), ratio(r.reqPerSec(), base.reqPerSec()))
			row(out, label+": p50", ms(r.p50), ms(base.p50)+" healthz", ratio(r.p50.Seconds(), base.p50.Seconds()))
			row(out, label+": p99", ms(r.p99), ms(base.p99)+" healthz", ratio(r.p99.Seconds(), base.p99.Seconds()))
			if !s.likes {
				continue
			}
			row(out, label+": errors", fmt.Sprintf("0 of %.0f", r.requests), "-", 0)
			likes, err := checkLikeCounts(ctx, srv.url, dbURL, seed.page, everyone)
			if err != nil {
				return fmt.Errorf("%s, %d conns: %w", s.name, c, err)
			}
			row(out, label+": like_count exact", fmt.Sprintf("%d videos ok", len(seed.page)), fmt.Sprintf("%d likes", likes), 0)
		}
	}
	return nil
}

// seedAPI creates the scenarios' data directly in a fresh database, migrated
// as reel serve migrates it: an author with a.videos ready videos (plausible
// keys, no files: the API only signs their URLs), a viewer who follows the
// author and likes every third video of the first page, and the likers.
func seedAPI(ctx context.Context, dbURL string, a apiOptions) (_ apiData, err error) {
	db, err := sqlstore.Open(ctx, dbURL)
	if err != nil {
		return apiData{}, err
	}
	defer func() {
		if cerr := db.Close(); err == nil {
			err = cerr
		}
	}()
	if err := db.Migrate(ctx, func(ctx context.Context) error { return jobs.Migrate(ctx, db.SQL(), db.Engine()) }); err != nil {
		return apiData{}, fmt.Errorf("migrate: %w", err)
	}
	// One hash for everyone: each has a password the server verifies at login.
	hash, err := auth.NewHasher(auth.DefaultParams, 1).Hash(ctx, apiPassword)
	if err != nil {
		return apiData{}, err
	}
	d := apiData{viewer: "bench_viewer", viewerLike: map[int64]bool{}}
	author, err := db.CreateUser(ctx, "bench_author", hash)
	if err != nil {
		return apiData{}, err
	}
	d.authorID = author.ID
	viewer, err := db.CreateUser(ctx, d.viewer, hash)
	if err != nil {
		return apiData{}, err
	}
	for i := range a.likers {
		name := fmt.Sprintf("bench_liker_%02d", i+1)
		if _, err := db.CreateUser(ctx, name, hash); err != nil {
			return apiData{}, err
		}
		d.likers = append(d.likers, name)
	}
	var ids []int64
	for i := range a.videos {
		v := &reel.Video{AuthorID: author.ID, Title: fmt.Sprintf("Bench clip %d", i+1),
			Description: "A clip of the API benchmark", Visibility: reel.VisibilityPublic, Status: reel.StatusUploading}
		if err := db.CreateVideo(ctx, v); err != nil {
			return apiData{}, err
		}
		dir := fmt.Sprintf("videos/%d/", v.ID)
		err := db.SetProcessed(ctx, v.ID, reel.Processed{
			Status: reel.StatusReady, DurationMS: int64(8000 + 1000*i), Width: 720, Height: 1280,
			SizeBytes: int64(4_000_000 + 100_000*i), CoverKey: dir + "cover.jpg", PlayKey: dir + "play.mp4", HLSKey: dir + "hls/master.m3u8",
			Renditions: []reel.Rendition{{Width: 360, Height: 640, Bandwidth: 800_000}, {Width: 720, Height: 1280, Bandwidth: 2_400_000}},
		})
		if err != nil {
			return apiData{}, err
		}
		ids = append(ids, v.ID)
	}
	for i := len(ids) - 1; i >= 0 && len(d.page) < feedPage; i-- {
		d.page = append(d.page, ids[i])
	}
	if len(d.page) < feedPage {
		return apiData{}, fmt.Errorf("%d videos do not fill a page of %d", a.videos, feedPage)
	}
	if err := db.Follow(ctx, viewer.ID, author.ID); err != nil {
		return apiData{}, err
	}
	for i := 0; i < len(d.page); i += 3 {
		if err := db.Like(ctx, viewer.ID, d.page[i]); err != nil {
			return apiData{}, err
		}
		d.viewerLike[d.page[i]] = true
	}
	return d, nil
}

// login signs the users in through the API, a few at once, and returns
// their tokens in the same order.
func login(base string, users []string) ([]string, error) {
	tokens := make([]string, len(users))
	errs := make([]error, len(users))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, name := range users {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			body, _ := json.Marshal(map[string]string{"username": name, "password": apiPassword})
			resp, err := http.Post(base+"/api/v1/sessions", "application/json", bytes.NewReader(body))
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			var s struct{ Token string }
			if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || resp.StatusCode != http.StatusOK || s.Token == "" {
				errs[i] = fmt.Errorf("log in %s: status %d, %v", name, resp.StatusCode, err)
				return
			}
			tokens[i] = s.Token
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return tokens, nil
}

// apiVideo is what the checks read of a Video.
type apiVideo struct {
	ID        int64  `json:"id"`
	Status    string `json:"status"`
	CoverURL  string `json:"cover_url"`
	PlayURL   string `json:"play_url"`
	HLSURL    string `json:"hls_url"`
	LikeCount int64  `json:"like_count"`
	IsLiked   bool   `json:"is_liked"`
	Author    struct {
		ID          int64 `json:"id"`
		IsFollowing bool  `json:"is_following"`
	} `json:"author"`
}

// call sends one request, with token when it is not "", and decodes a JSON
// answer into into when it is not nil. It fails unless the status is want.
func call(method, url, token string, want int, into any) error {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d: %.200s", method, url, resp.StatusCode, want, body)
	}
	if into != nil {
		if err := json.Unmarshal(body, into); err != nil {
			return fmt.Errorf("%s %s: %w", method, url, err)
		}
	}
	return nil
}

// checkAPI makes sure the loads mean what they say before they run: the
// trivial handler is trivial, the feed's first page holds the seeded videos
// with their URLs and, for the viewer only, the viewer's flags, the card
// answers, and a like and an unlike succeed.
func checkAPI(base string, d apiData, viewerToken, likerToken string) error {
	var health map[string]string
	if err := call("GET", base+"/healthz", "", http.StatusOK, &health); err != nil {
		return err
	}
	if len(health) != 1 || health["status"] != "ok" {
		return fmt.Errorf("healthz answered %v", health)
	}
	for _, viewer := range []bool{false, true} {
		token, who := "", "anonymous"
		if viewer {
			token, who = viewerToken, "viewer"
		}
		var feed struct{ Videos []apiVideo }
		if err := call("GET", base+"/api/v1/feed", token, http.StatusOK, &feed); err != nil {
			return err
		}
		if len(feed.Videos) != len(d.page) {
			return fmt.Errorf("feed (%s): %d videos, want %d", who, len(feed.Videos), len(d.page))
		}
		for i, v := range feed.Videos {
			switch {
			case v.ID != d.page[i]:
				return fmt.Errorf("feed (%s): video %d at %d, want %d", who, v.ID, i, d.page[i])
			case v.Status != reel.StatusReady || v.CoverURL == "" || v.PlayURL == "" || v.HLSURL == "":
				return fmt.Errorf("feed (%s): video %d is %s with cover %q, play %q, hls %q", who, v.ID, v.Status, v.CoverURL, v.PlayURL, v.HLSURL)
			case v.Author.ID != d.authorID:
				return fmt.Errorf("feed (%s): video %d by %d, want %d", who, v.ID, v.Author.ID, d.authorID)
			case v.Author.IsFollowing != viewer:
				return fmt.Errorf("feed (%s): author.is_following %v", who, v.Author.IsFollowing)
			case v.IsLiked != (viewer && d.viewerLike[v.ID]):
				return fmt.Errorf("feed (%s): video %d is_liked %v", who, v.ID, v.IsLiked)
			}
		}
	}
	id := d.page[0]
	card := fmt.Sprintf("%s/api/v1/videos/%d", base, id)
	var v apiVideo
	if err := call("GET", card, "", http.StatusOK, &v); err != nil {
		return err
	}
	if v.ID != id || v.PlayURL == "" {
		return fmt.Errorf("card of video %d: id %d, play_url %q", id, v.ID, v.PlayURL)
	}
	for _, c := range []struct {
		method string
		liked  bool
	}{{"PUT", true}, {"DELETE", false}} {
		if err := call(c.method, card+"/like", likerToken, http.StatusNoContent, nil); err != nil {
			return err
		}
		if err := call("GET", card, likerToken, http.StatusOK, &v); err != nil {
			return err
		}
		if v.IsLiked != c.liked {
			return fmt.Errorf("after %s of the like of video %d: is_liked %v", c.method, id, v.IsLiked)
		}
	}
	return nil
}

// checkLikeCounts compares, once the server has finished every request,
// each video's like_count with the users who like it: through the API, the
// card's like_count against is_liked asked of every user who may like it,
// and in the store, every count of likes against the rows. It returns the
// likes on the page's videos.
func checkLikeCounts(ctx context.Context, base, dbURL string, page []int64, tokens []string) (int64, error) {
	if err := waitIdle(base, 30*time.Second); err != nil {
		return 0, err
	}
	var total int64
	for _, id := range page {
		card := fmt.Sprintf("%s/api/v1/videos/%d", base, id)
		var v apiVideo
		if err := call("GET", card, "", http.StatusOK, &v); err != nil {
			return 0, err
		}
		var likers int64
		for _, token := range tokens {
			var mine apiVideo
			if err := call("GET", card, token, http.StatusOK, &mine); err != nil {
				return 0, err
			}
			if mine.IsLiked {
				likers++
			}
		}
		if v.LikeCount != likers {
			return 0, fmt.Errorf("video %d: like_count %d, but %d users like it", id, v.LikeCount, likers)
		}
		total += likers
	}
	return total, checkLikeRows(ctx, dbURL)
}

// checkLikeRows compares in the store every like count with its rows: the
// videos' like_count, the users' like_count (given) and liked_count
// (received).
func checkLikeRows(ctx context.Context, dbURL string) (err error) {
	db, err := sqlstore.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := db.Close(); err == nil {
			err = cerr
		}
	}()
	for _, q := range []struct{ what, sql string }{
		{"video %d: like_count %d, %d likes", `SELECT v.id, v.like_count, (SELECT COUNT(*) FROM likes l WHERE l.video_id = v.id) FROM videos v`},
		{"user %d: like_count %d, %d likes given", `SELECT u.id, u.like_count, (SELECT COUNT(*) FROM likes l WHERE l.user_id = u.id) FROM users u`},
		{"user %d: liked_count %d, %d likes received", `SELECT u.id, u.liked_count, (SELECT COUNT(*) FROM likes l JOIN videos v ON v.id = l.video_id WHERE v.author_id = u.id) FROM users u`},
	} {
		rows, err := db.Reader().QueryContext(ctx, q.sql)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id, count, real int64
			if err := rows.Scan(&id, &count, &real); err != nil {
				rows.Close()
				return err
			}
			if count != real {
				rows.Close()
				return fmt.Errorf("in the store, "+q.what, id, count, real)
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// waitIdle waits until the server runs no request but the one asking: wrk
// stops on time, but the requests it leaves in flight still complete.
func waitIdle(base string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		n, err := inFlight(base)
		if err != nil {
			return err
		}
		if n <= 1 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%.0f requests still in flight after %s", n-1, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// inFlight reads reel_http_requests_in_flight from /metrics (it counts the
// request that reads it).
func inFlight(base string) (float64, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "reel_http_requests_in_flight "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("no reel_http_requests_in_flight in /metrics")
}

// luaRequest is one request of a script; token "" sends no Authorization.
type luaRequest struct{ method, path, token string }

func (r luaRequest) lua() string {
	headers := "{}"
	if r.token != "" {
		headers = fmt.Sprintf("{ [\"Authorization\"] = %q }", "Bearer "+r.token)
	}
	return fmt.Sprintf("{ %q, %q, %s }", r.method, r.path, headers)
}

// writeCycleScript: the requests in turn, each thread starting at its own
// one. Every request is formatted once, in init, so that wrk spends the same
// on each side whatever the request.
func writeCycleScript(path string, reqs []luaRequest) error {
	var b strings.Builder
	b.WriteString("local list = {\n")
	for _, r := range reqs {
		fmt.Fprintf(&b, "  %s,\n", r.lua())
	}
	b.WriteString("}\nlocal reqs, i = {}, 0\n")
	b.WriteString(wrkThreads)
	b.WriteString(`
function init(args)
  for k, r in ipairs(list) do
    reqs[k] = wrk.format(r[1], r[2], r[3])
  end
  i = (tid * 7) % #reqs
end

function request()
  i = i % #reqs + 1
  return reqs[i]
end
`)
	b.WriteString(wrkDone)
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// writeLikeMixScript: likes and unlikes in turn on each thread, each of a
// (user, video) pair drawn at random from every user and video, from a fixed
// seed per thread. wrk's request() cannot tell its connections apart, so the
// user is drawn per request rather than per connection: the same user's
// likes run on many connections at once, and the same pair is liked and
// unliked concurrently, which is what the counts must survive.
func writeLikeMixScript(path string, tokens []string, videos []int64) error {
	var b strings.Builder
	b.WriteString("local tokens = {\n")
	for _, t := range tokens {
		fmt.Fprintf(&b, "  %q,\n", t)
	}
	b.WriteString("}\nlocal videos = {")
	for _, id := range videos {
		fmt.Fprintf(&b, " %d,", id)
	}
	b.WriteString(" }\nlocal likes, n = {}, 0\n")
	b.WriteString(wrkThreads)
	b.WriteString(`
function init(args)
  math.randomseed(tid * 7919)
  for _, t in ipairs(tokens) do
    local h = { ["Authorization"] = "Bearer " .. t }
    for _, v in ipairs(videos) do
      local p = "/api/v1/videos/" .. v .. "/like"
      table.insert(likes, { wrk.format("PUT", p, h), wrk.format("DELETE", p, h) })
    end
  end
end

function request()
  n = n + 1
  return likes[math.random(#likes)][n % 2 + 1]
end
`)
	b.WriteString(wrkDone)
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

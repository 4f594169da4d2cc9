package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reel-video/reel/internal/media/mediatest"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

// dy is a client of the Douyin-compatible API, used the way its clients use
// it: parameters in the query and in form bodies, the token as a parameter,
// every answer HTTP 200 with a status_code.
type dy struct {
	t   *testing.T
	srv *instance
}

// call sends query in the URL and, for POST, form as an urlencoded body
// (sent even when empty, as the common client does), and decodes the answer.
func (d dy) call(method, path string, query, form url.Values, headers ...string) map[string]any {
	d.t.Helper()
	var body []byte
	if method == "POST" {
		body = []byte(form.Encode())
	}
	return d.send(method, path+"?"+query.Encode(), body, "application/x-www-form-urlencoded", headers...)
}

func (d dy) send(method, pathAndQuery string, body []byte, contentType string, headers ...string) map[string]any {
	d.t.Helper()
	req, err := http.NewRequest(method, d.srv.URL+pathAndQuery, bytes.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, pathAndQuery, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		d.t.Fatalf("%s %s: decode: %v", method, pathAndQuery, err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		d.t.Fatalf("%s %s: HTTP %d %s, want 200 JSON; body %v", method, pathAndQuery, resp.StatusCode, resp.Header.Get("Content-Type"), m)
	}
	checkKeys(d.t, pathAndQuery, m, map[string]string{"status_code": "number", "status_msg": "string"})
	return m
}

func (d dy) get(path string, query url.Values, headers ...string) map[string]any {
	d.t.Helper()
	return d.call("GET", path, query, nil, headers...)
}

func (d dy) post(path string, query, form url.Values) map[string]any {
	d.t.Helper()
	return d.call("POST", path, query, form)
}

// publish sends a clip as multipart data, the file first and the token and
// title after it, as the common clients build the form.
func (d dy) publish(query url.Values, path string, fields ...string) map[string]any {
	d.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if path != "" {
		fw, err := mw.CreateFormFile("data", filepath.Base(path))
		if err != nil {
			d.t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			d.t.Fatal(err)
		}
		fw.Write(b)
	}
	for i := 0; i+1 < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	mw.Close()
	return d.send("POST", "/douyin/publish/action/?"+query.Encode(), body.Bytes(), mw.FormDataContentType())
}

// expectCode fails unless the answer has status_code code.
func expectCode(t *testing.T, what string, m map[string]any, code int) {
	t.Helper()
	if m["status_code"] != float64(code) {
		t.Fatalf("%s: status_code %v, want %d; answer %v", what, m["status_code"], code, m)
	}
	if code != 0 && m["status_msg"] == "" {
		t.Errorf("%s: failure without a status_msg", what)
	}
}

func expectOK(t *testing.T, what string, m map[string]any) {
	t.Helper()
	expectCode(t, what, m, 0)
}

// The objects of the Douyin API (docs/api.md): every key present, with its JSON type.
var (
	userKeys = map[string]string{"id": "number", "name": "string", "follow_count": "number", "follower_count": "number",
		"is_follow": "bool", "avatar": "string", "background_image": "string", "signature": "string",
		"total_favorited": "number", "work_count": "number", "favorite_count": "number"}
	videoKeys = map[string]string{"id": "number", "author": "user", "play_url": "string", "cover_url": "string",
		"favorite_count": "number", "comment_count": "number", "is_favorite": "bool", "title": "string"}
	commentKeys = map[string]string{"id": "number", "user": "user", "content": "string", "create_date": "string"}
	messageKeys = map[string]string{"id": "number", "to_user_id": "number", "from_user_id": "number",
		"content": "string", "create_time": "number"}
	friendKeys = func() map[string]string {
		m := map[string]string{"message": "string", "msgType": "number"}
		for k, v := range userKeys {
			m[k] = v
		}
		return m
	}()
	sessionKeys = map[string]string{"user_id": "number", "token": "string"}
)

// checkKeys fails unless m has every key of keys with its type: number
// (float64), string, bool, or user (a nested User object).
func checkKeys(t *testing.T, what string, m map[string]any, keys map[string]string) {
	t.Helper()
	for k, kind := range keys {
		v, found := m[k]
		if !found {
			t.Errorf("%s: key %q missing in %v", what, k, m)
			continue
		}
		var typeOK bool
		switch kind {
		case "number":
			_, typeOK = v.(float64)
		case "string":
			_, typeOK = v.(string)
		case "bool":
			_, typeOK = v.(bool)
		case "user":
			var u map[string]any
			if u, typeOK = v.(map[string]any); typeOK {
				checkKeys(t, what+"."+k, u, userKeys)
			}
		}
		if !typeOK {
			t.Errorf("%s: %q is %T (%v), want a %s", what, k, v, v, kind)
		}
	}
}

// list returns the array under key (never null), checking each object.
func list(t *testing.T, m map[string]any, key string, keys map[string]string) []map[string]any {
	t.Helper()
	arr, isArray := m[key].([]any)
	if !isArray {
		t.Fatalf("%q is %T, want an array: %v", key, m[key], m)
	}
	out := make([]map[string]any, len(arr))
	for i, v := range arr {
		obj, isObject := v.(map[string]any)
		if !isObject {
			t.Fatalf("%s[%d] is %T", key, i, v)
		}
		checkKeys(t, fmt.Sprintf("%s[%d]", key, i), obj, keys)
		out[i] = obj
	}
	return out
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

func idsOf(objs []map[string]any) []int64 {
	out := []int64{}
	for _, o := range objs {
		out = append(out, num(o["id"]))
	}
	return out
}

func qs(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// createdMS is a video's creation time in milliseconds, from /api/v1.
func createdMS(t *testing.T, srv *instance, id int64) int64 {
	t.Helper()
	r := srv.do("GET", "/api/v1/videos/"+itoa(id), "", nil)
	expect(t, r, 200, "")
	var v struct {
		CreatedAt time.Time `json:"created_at"`
	}
	r.json(t, &v)
	return v.CreatedAt.UnixMilli()
}

// TestDouyinAPI walks the Douyin-compatible API the way its clients do, on
// both engines: two users register and log in, publish, watch the feed,
// like, comment, follow each other and chat, and every answer has the
// field names and JSON types of the Douyin API (docs/api.md).
func TestDouyinAPI(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, map[string]string{"REEL_DATABASE_URL": dbURL})
		d := dy{t, srv}

		// Register: the common client POSTs an empty form with the
		// parameters in the query.
		reg := d.post("/douyin/user/register/", qs("username", "alice", "password", "alice-pass"), nil)
		expectOK(t, "register alice", reg)
		checkKeys(t, "register", reg, sessionKeys)
		alice, aliceToken := num(reg["user_id"]), reg["token"].(string)
		// Others send a form; when both carry a value, the form wins.
		reg = d.post("/douyin/user/register/", qs("username", "query_name", "password", "query-pass"), qs("username", "bob", "password", "bob-pass"))
		expectOK(t, "register bob", reg)
		bob := num(reg["user_id"])
		if alice <= 0 || bob <= 0 || alice == bob || aliceToken == "" {
			t.Fatalf("register: alice %d bob %d token %q", alice, bob, aliceToken)
		}
		login := d.post("/douyin/user/login/", qs("username", "alice", "password", "alice-pass"), nil)
		expectOK(t, "login alice", login)
		checkKeys(t, "login", login, sessionKeys)
		if num(login["user_id"]) != alice || login["token"] == "" {
			t.Fatalf("login alice: %v", login)
		}
		aliceToken = login["token"].(string)
		login = d.post("/douyin/user/login/", nil, qs("username", "bob", "password", "bob-pass"))
		expectOK(t, "login bob (the form's name won at registration)", login)
		bobToken := login["token"].(string)
		u := d.get("/douyin/user/", qs("user_id", itoa(bob), "token", aliceToken))
		expectOK(t, "user", u)
		checkKeys(t, "user", u, map[string]string{"user": "user"})
		if user := u["user"].(map[string]any); num(user["id"]) != bob || user["name"] != "bob" {
			t.Errorf("user %d: %v", bob, user)
		}

		// Publish: answered once the upload is stored and its cover made;
		// the owner's list shows it at once with both URLs.
		clip := mediatest.Clip(t, "noaudio")
		expectOK(t, "publish alice", d.publish(nil, clip, "token", aliceToken, "title", "alice's clip"))
		mine := list(t, d.get("/douyin/publish/list/", qs("user_id", itoa(alice), "token", aliceToken)), "video_list", videoKeys)
		if len(mine) != 1 || mine[0]["title"] != "alice's clip" || num(mine[0]["author"].(map[string]any)["id"]) != alice {
			t.Fatalf("alice's publish list right after publishing: %v", mine)
		}
		v1 := num(mine[0]["id"])
		// play_url is the stored original until the MP4 exists: real MP4
		// bytes with Range, typed by sniffing, so a plain player plays it.
		if ct := checkMedia(t, mine[0]); ct != "video/mp4" {
			t.Errorf("play_url right after publishing is %s", ct)
		}
		expectOK(t, "publish bob", d.publish(qs("token", bobToken, "title", "bob's clip"), clip))
		mine = list(t, d.get("/douyin/publish/list/", qs("token", bobToken)), "video_list", videoKeys)
		if len(mine) != 1 || mine[0]["title"] != "bob's clip" {
			t.Fatalf("bob's publish list: %v", mine)
		}
		v2 := num(mine[0]["id"])
		for id, token := range map[int64]string{v1: aliceToken, v2: bobToken} {
			if v := waitVideo(t, srv, token, id); v.Status != "ready" {
				t.Fatalf("video %d ended %+v", id, v)
			}
		}
		// Ready: play_url is the faststart MP4, playable by a plain player.
		mine = list(t, d.get("/douyin/publish/list/", qs("user_id", itoa(alice))), "video_list", videoKeys)
		if len(mine) != 1 {
			t.Fatalf("alice's videos seen anonymously once ready: %v", mine)
		}
		if ct := checkMedia(t, mine[0]); ct != "video/mp4" {
			t.Errorf("play_url of a ready video is %s", ct)
		}
		if p := probe(t, mine[0]["play_url"].(string)); p.count("video") != 1 {
			t.Errorf("play_url: %d video streams", p.count("video"))
		}

		// Feed: newest first, next_time the oldest's creation in ms,
		// latest_time in ms or s, strictly before.
		ms1, ms2 := createdMS(t, srv, v1), createdMS(t, srv, v2)
		feed := func(query url.Values, want ...int64) map[string]any {
			t.Helper()
			f := d.get("/douyin/feed/", query)
			expectOK(t, "feed", f)
			checkKeys(t, "feed", f, map[string]string{"next_time": "number"})
			if got := idsOf(list(t, f, "video_list", videoKeys)); !slices.Equal(got, want) {
				t.Fatalf("feed %v: videos %v, want %v", query, got, want)
			}
			return f
		}
		f := feed(nil, v2, v1)
		if num(f["next_time"]) != ms1 {
			t.Errorf("next_time %v, want %d", f["next_time"], ms1)
		}
		f = feed(qs("latest_time", itoa(ms2)), v1)
		if num(f["next_time"]) != ms1 {
			t.Errorf("next_time %v, want %d", f["next_time"], ms1)
		}
		if f = feed(qs("latest_time", itoa(ms1)), []int64{}...); num(f["next_time"]) != ms1 {
			t.Errorf("empty page: next_time %v, want the requested %d", f["next_time"], ms1)
		}
		feed(qs("latest_time", itoa(time.Now().Unix())), v2, v1)
		if f = feed(qs("latest_time", itoa(ms1/1000-1))); num(f["next_time"]) != (ms1/1000-1)*1000 {
			t.Errorf("empty page for a time in seconds: next_time %v, want %d", f["next_time"], (ms1/1000-1)*1000)
		}
		feed(qs("latest_time", "0", "token", aliceToken), v2, v1)

		// Likes, both ways; a repeated action succeeds.
		for range 2 {
			expectOK(t, "bob likes v1", d.post("/douyin/favorite/action/",
				qs("token", bobToken, "video_id", itoa(v1), "action_type", "1"), qs("token", bobToken, "video_id", itoa(v1), "action_type", "1")))
		}
		for _, action := range []string{"1", "2", "2", "1"} {
			expectOK(t, "alice likes/unlikes v2", d.post("/douyin/favorite/action/", nil, qs("token", aliceToken, "video_id", itoa(v2), "action_type", action)))
		}
		liked := list(t, d.get("/douyin/favorite/list/", qs("user_id", itoa(bob), "token", bobToken)), "video_list", videoKeys)
		if len(liked) != 1 || num(liked[0]["id"]) != v1 || liked[0]["is_favorite"] != true || num(liked[0]["favorite_count"]) != 1 {
			t.Errorf("bob's likes: %v", liked)
		}
		liked = list(t, d.get("/douyin/favorite/list/", qs("user_id", itoa(alice))), "video_list", videoKeys)
		if len(liked) != 1 || num(liked[0]["id"]) != v2 || liked[0]["is_favorite"] != false {
			t.Errorf("alice's likes seen anonymously: %v", liked)
		}

		// Comments: add, list newest first, delete by the video's owner.
		comment := func(token, text string) map[string]any {
			t.Helper()
			r := d.post("/douyin/comment/action/", qs("token", token), qs("video_id", itoa(v1), "action_type", "1", "comment_text", text))
			expectOK(t, "comment", r)
			c, isObject := r["comment"].(map[string]any)
			if !isObject {
				t.Fatalf("comment answer: %v", r)
			}
			checkKeys(t, "comment", c, commentKeys)
			before, after := time.Now().UTC().Add(-time.Minute).Format("01-02"), time.Now().UTC().Format("01-02")
			if c["content"] != text || (c["create_date"] != before && c["create_date"] != after) {
				t.Errorf("comment %v, want content %q created %s", c, text, after)
			}
			return c
		}
		byBob, byAlice := comment(bobToken, "nice clip"), comment(aliceToken, "thanks")
		if num(byBob["user"].(map[string]any)["id"]) != bob {
			t.Errorf("comment author: %v", byBob["user"])
		}
		comments := list(t, d.get("/douyin/comment/list/", qs("video_id", itoa(v1), "token", bobToken)), "comment_list", commentKeys)
		if got := idsOf(comments); !slices.Equal(got, []int64{num(byAlice["id"]), num(byBob["id"])}) {
			t.Errorf("comments %v, want newest first", got)
		}
		deleteComment := func(token string, c map[string]any) map[string]any {
			return d.post("/douyin/comment/action/", nil, qs("token", token, "video_id", itoa(v1), "action_type", "2", "comment_id", itoa(num(c["id"]))))
		}
		expectCode(t, "bob deletes alice's comment on alice's video", deleteComment(bobToken, byAlice), 6)
		expectOK(t, "the owner deletes bob's comment", deleteComment(aliceToken, byBob))
		expectOK(t, "deleting it again", deleteComment(aliceToken, byBob))
		comments = list(t, d.get("/douyin/comment/list/", qs("video_id", itoa(v1))), "comment_list", commentKeys)
		if got := idsOf(comments); !slices.Equal(got, []int64{num(byAlice["id"])}) {
			t.Errorf("comments after the delete: %v", got)
		}
		if f := list(t, d.get("/douyin/feed/", qs("token", bobToken)), "video_list", videoKeys); num(f[1]["comment_count"]) != 1 || f[1]["is_favorite"] != true || f[0]["is_favorite"] != false {
			t.Errorf("feed for bob after likes and comments: %v", f)
		}

		// Follows, both ways.
		follow := func(token string, to int64, action string) map[string]any {
			return d.post("/douyin/relation/action/", nil, qs("token", token, "to_user_id", itoa(to), "action_type", action))
		}
		expectOK(t, "alice follows bob", follow(aliceToken, bob, "1"))
		expectOK(t, "again", follow(aliceToken, bob, "1"))
		expectOK(t, "bob follows alice", follow(bobToken, alice, "1"))
		expectCode(t, "following oneself", follow(bobToken, bob, "1"), 1)
		users := list(t, d.get("/douyin/relation/follow/list/", qs("user_id", itoa(alice), "token", aliceToken)), "user_list", userKeys)
		if len(users) != 1 || num(users[0]["id"]) != bob || users[0]["is_follow"] != true {
			t.Errorf("alice follows %v", users)
		}
		users = list(t, d.get("/douyin/relation/follower/list/", qs("user_id", itoa(alice))), "user_list", userKeys)
		if len(users) != 1 || num(users[0]["id"]) != bob || users[0]["is_follow"] != false {
			t.Errorf("alice's followers seen anonymously: %v", users)
		}
		friends := list(t, d.get("/douyin/relation/friend/list/", qs("user_id", itoa(alice), "token", aliceToken)), "user_list", friendKeys)
		if len(friends) != 1 || num(friends[0]["id"]) != bob || friends[0]["message"] != "" || num(friends[0]["msgType"]) != 0 {
			t.Errorf("alice's friends before any message: %v", friends)
		}

		// Chat, both ways: one conversation seen from both sides.
		send := func(token string, to int64, text string) {
			t.Helper()
			expectOK(t, "message", d.post("/douyin/message/action/", nil, qs("token", token, "to_user_id", itoa(to), "action_type", "1", "content", text)))
		}
		chat := func(token string, with int64, pre int64) []map[string]any {
			t.Helper()
			q := qs("token", token, "to_user_id", itoa(with))
			if pre != 0 {
				q.Set("pre_msg_time", itoa(pre))
			}
			r := d.get("/douyin/message/chat/", q)
			expectOK(t, "chat", r)
			return list(t, r, "message_list", messageKeys)
		}
		send(aliceToken, bob, "hi bob")
		first := chat(aliceToken, bob, 0)
		if len(first) != 1 || first[0]["content"] != "hi bob" || num(first[0]["from_user_id"]) != alice || num(first[0]["to_user_id"]) != bob {
			t.Fatalf("chat after one message: %v", first)
		}
		t1 := num(first[0]["create_time"])
		if now := time.Now().UnixMilli(); t1 < now-60_000 || t1 > now+1000 {
			t.Errorf("create_time %d is not epoch ms (now %d)", t1, now)
		}
		// The next message must fall in a later millisecond for the filter
		// to tell them apart.
		waitFor(t, "the next millisecond", func() bool { return time.Now().UnixMilli() > t1 })
		send(bobToken, alice, "hi alice")
		fromAlice, fromBob := chat(aliceToken, bob, 0), chat(bobToken, alice, 0)
		if !slices.Equal(idsOf(fromAlice), idsOf(fromBob)) || len(fromAlice) != 2 ||
			fromAlice[0]["content"] != "hi bob" || fromAlice[1]["content"] != "hi alice" || num(fromAlice[1]["from_user_id"]) != bob {
			t.Fatalf("conversation from alice %v, from bob %v", fromAlice, fromBob)
		}
		t2 := num(fromAlice[1]["create_time"])
		if got := chat(bobToken, alice, t1); len(got) != 1 || got[0]["content"] != "hi alice" {
			t.Errorf("after pre_msg_time %d: %v", t1, got)
		}
		if got := chat(aliceToken, bob, t2); len(got) != 0 {
			t.Errorf("after the last message: %v", got)
		}
		friends = list(t, d.get("/douyin/relation/friend/list/", qs("token", aliceToken)), "user_list", friendKeys)
		if len(friends) != 1 || friends[0]["message"] != "hi alice" || num(friends[0]["msgType"]) != 0 {
			t.Errorf("alice's friends: %v", friends)
		}
		friends = list(t, d.get("/douyin/relation/friend/list/", qs("user_id", itoa(bob), "token", bobToken)), "user_list", friendKeys)
		if len(friends) != 1 || num(friends[0]["id"]) != alice || friends[0]["message"] != "hi alice" || num(friends[0]["msgType"]) != 1 {
			t.Errorf("bob's friends: %v", friends)
		}

		// The counts after all that.
		for _, tc := range []struct {
			who   int64
			token string
		}{{alice, bobToken}, {bob, aliceToken}} {
			r := d.get("/douyin/user/", qs("user_id", itoa(tc.who), "token", tc.token))
			expectOK(t, "user", r)
			u := r["user"].(map[string]any)
			checkKeys(t, "user", u, userKeys)
			for k, want := range map[string]int64{"work_count": 1, "total_favorited": 1, "favorite_count": 1, "follow_count": 1, "follower_count": 1} {
				if num(u[k]) != want {
					t.Errorf("user %d: %s %v, want %d", tc.who, k, u[k], want)
				}
			}
			if u["is_follow"] != true {
				t.Errorf("user %d: is_follow false for a follower", tc.who)
			}
		}
		// Without user_id, the token's user; the header works as the parameter does.
		r := d.get("/douyin/user/", nil, "Authorization", "Bearer "+aliceToken)
		expectOK(t, "user by header", r)
		if u := r["user"].(map[string]any); num(u["id"]) != alice || u["is_follow"] != false {
			t.Errorf("own user: %v", u)
		}
	})
}

// checkMedia fetches a listed video's cover_url and play_url with a plain
// client, as a player would, and returns play_url's Content-Type.
func checkMedia(t *testing.T, v map[string]any) string {
	t.Helper()
	cover, play := v["cover_url"].(string), v["play_url"].(string)
	if !strings.HasPrefix(cover, "http") || !strings.HasPrefix(play, "http") {
		t.Fatalf("video %v: play_url %q, cover_url %q", v["id"], play, cover)
	}
	resp, _ := fetch(t, "GET", cover)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("cover_url: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, body := fetch(t, "GET", play)
	if resp.StatusCode != 200 || len(body) < 8 || string(body[4:8]) != "ftyp" {
		t.Errorf("play_url: %d, %d bytes, not an MP4", resp.StatusCode, len(body))
	}
	resp, body = fetch(t, "GET", play, "Range", "bytes=0-99")
	if resp.StatusCode != http.StatusPartialContent || len(body) != 100 {
		t.Errorf("play_url with Range: %d, %d bytes", resp.StatusCode, len(body))
	}
	return resp.Header.Get("Content-Type")
}

// TestDouyinBadInputs sends what a broken or hostile client sends: each is
// answered HTTP 200 with the documented non-zero status_code.
func TestDouyinBadInputs(t *testing.T) {
	srv := startServer(t, map[string]string{"REEL_MAX_UPLOAD_BYTES": "300000"})
	d := dy{t, srv}
	reg := d.post("/douyin/user/register/", qs("username", "carol", "password", "carol-pass"), nil)
	expectOK(t, "register", reg)
	carol, token := num(reg["user_id"]), reg["token"].(string)
	other := num(d.post("/douyin/user/register/", qs("username", "dave", "password", "dave-pass"), nil)["user_id"])

	// Register and login always carry user_id and token.
	for _, tc := range []struct {
		what, path string
		form       url.Values
		code       int
	}{
		{"a taken name", "/douyin/user/register/", qs("username", "carol", "password", "another-pass"), 5},
		{"a taken name in another case", "/douyin/user/register/", qs("username", "CAROL", "password", "another-pass"), 5},
		{"a short password", "/douyin/user/register/", qs("username", "erin", "password", "12345"), 1},
		{"a 33-byte password", "/douyin/user/register/", qs("username", "erin", "password", strings.Repeat("p", 33)), 1},
		{"a 33-character name", "/douyin/user/register/", qs("username", strings.Repeat("e", 33), "password", "erin-pass"), 1},
		{"a name with a space", "/douyin/user/register/", qs("username", "erin smith", "password", "erin-pass"), 1},
		{"no parameters", "/douyin/user/register/", nil, 1},
		{"a wrong password", "/douyin/user/login/", qs("username", "carol", "password", "wrong-pass"), 3},
		{"an unknown user", "/douyin/user/login/", qs("username", "nobody", "password", "wrong-pass"), 3},
		{"no password", "/douyin/user/login/", qs("username", "carol"), 1},
	} {
		r := d.post(tc.path, nil, tc.form)
		expectCode(t, tc.what, r, tc.code)
		checkKeys(t, tc.what, r, sessionKeys)
		if r["user_id"] != 0.0 || r["token"] != "" {
			t.Errorf("%s: user_id %v token %v, want 0 and \"\"", tc.what, r["user_id"], r["token"])
		}
	}

	// A video to aim at.
	expectOK(t, "publish", d.publish(nil, mediatest.Clip(t, "noaudio"), "token", token, "title", "t"))
	v := num(list(t, d.get("/douyin/publish/list/", qs("token", token)), "video_list", videoKeys)[0]["id"])

	for _, tc := range []struct {
		what, method, path string
		query              url.Values
		code               int
	}{
		{"no token", "POST", "/douyin/favorite/action/", qs("video_id", itoa(v), "action_type", "1"), 2},
		{"a forged token", "POST", "/douyin/favorite/action/", qs("token", "garbage", "video_id", itoa(v), "action_type", "1"), 2},
		{"a forged token where optional", "GET", "/douyin/feed/", qs("token", "garbage"), 2},
		{"a non-numeric video_id", "POST", "/douyin/favorite/action/", qs("token", token, "video_id", "abc", "action_type", "1"), 1},
		{"video_id 0", "POST", "/douyin/favorite/action/", qs("token", token, "video_id", "0", "action_type", "1"), 1},
		{"a negative video_id", "POST", "/douyin/favorite/action/", qs("token", token, "video_id", "-3", "action_type", "1"), 1},
		{"an unknown video", "POST", "/douyin/favorite/action/", qs("token", token, "video_id", "999999", "action_type", "1"), 4},
		{"action_type 3", "POST", "/douyin/favorite/action/", qs("token", token, "video_id", itoa(v), "action_type", "3"), 1},
		{"no action_type", "POST", "/douyin/favorite/action/", qs("token", token, "video_id", itoa(v)), 1},
		{"a non-numeric action_type", "POST", "/douyin/relation/action/", qs("token", token, "to_user_id", itoa(other), "action_type", "follow"), 1},
		{"an unknown user to follow", "POST", "/douyin/relation/action/", qs("token", token, "to_user_id", "999999", "action_type", "1"), 4},
		{"a non-numeric to_user_id", "POST", "/douyin/relation/action/", qs("token", token, "to_user_id", "x1", "action_type", "1"), 1},
		{"a comment without text", "POST", "/douyin/comment/action/", qs("token", token, "video_id", itoa(v), "action_type", "1"), 1},
		{"a comment on an unknown video", "POST", "/douyin/comment/action/", qs("token", token, "video_id", "999999", "action_type", "1", "comment_text", "hi"), 4},
		{"a delete without comment_id", "POST", "/douyin/comment/action/", qs("token", token, "video_id", itoa(v), "action_type", "2"), 1},
		{"a non-numeric comment_id", "POST", "/douyin/comment/action/", qs("token", token, "video_id", itoa(v), "action_type", "2", "comment_id", "1e3"), 1},
		{"comments without video_id", "GET", "/douyin/comment/list/", nil, 1},
		{"comments of an unknown video", "GET", "/douyin/comment/list/", qs("video_id", "999999"), 4},
		{"a non-numeric latest_time", "GET", "/douyin/feed/", qs("latest_time", "yesterday"), 1},
		{"a negative latest_time", "GET", "/douyin/feed/", qs("latest_time", "-5"), 1},
		{"a user without token", "GET", "/douyin/user/", qs("user_id", itoa(carol)), 2},
		{"an unknown user", "GET", "/douyin/user/", qs("user_id", "999999", "token", token), 4},
		{"a non-numeric user_id", "GET", "/douyin/user/", qs("user_id", "me", "token", token), 1},
		{"a publish list of nobody", "GET", "/douyin/publish/list/", nil, 1},
		{"the publish list of an unknown user", "GET", "/douyin/publish/list/", qs("user_id", "999999"), 4},
		{"someone else's friend list", "GET", "/douyin/relation/friend/list/", qs("user_id", itoa(other), "token", token), 6},
		{"a friend list without token", "GET", "/douyin/relation/friend/list/", qs("user_id", itoa(carol)), 2},
		{"a message with action_type 2", "POST", "/douyin/message/action/", qs("token", token, "to_user_id", itoa(other), "action_type", "2", "content", "hi"), 1},
		{"a message to oneself", "POST", "/douyin/message/action/", qs("token", token, "to_user_id", itoa(carol), "action_type", "1", "content", "hi"), 1},
		{"an empty message", "POST", "/douyin/message/action/", qs("token", token, "to_user_id", itoa(other), "action_type", "1"), 1},
		{"a message to nobody", "POST", "/douyin/message/action/", qs("token", token, "to_user_id", "999999", "action_type", "1", "content", "hi"), 4},
		{"a chat without to_user_id", "GET", "/douyin/message/chat/", qs("token", token), 1},
		{"a non-numeric pre_msg_time", "GET", "/douyin/message/chat/", qs("token", token, "to_user_id", itoa(other), "pre_msg_time", "later"), 1},
		{"a chat with nobody", "GET", "/douyin/message/chat/", qs("token", token, "to_user_id", "999999"), 4},
	} {
		t.Run(tc.what, func(t *testing.T) {
			expectCode(t, tc.what, d.call(tc.method, tc.path, tc.query, nil), tc.code)
		})
	}
	expectCode(t, "a forged bearer header", d.get("/douyin/user/", nil, "Authorization", "Bearer garbage"), 2)
	expectCode(t, "a comment too long", d.post("/douyin/comment/action/", nil,
		qs("token", token, "video_id", itoa(v), "action_type", "1", "comment_text", strings.Repeat("x", 501))), 1)
	expectCode(t, "a form body over 1 MiB", d.post("/douyin/comment/action/", nil,
		qs("token", token, "video_id", itoa(v), "action_type", "1", "comment_text", strings.Repeat("x", 1<<20))), 8)

	// Uploads that are not videos, or not signed in.
	expectCode(t, "publishing random bytes", d.publish(nil, mediatest.Clip(t, "random"), "token", token, "title", "r"), 7)
	expectCode(t, "publishing a text file", d.publish(qs("token", token), mediatest.Clip(t, "text")), 7)
	expectCode(t, "publishing without a token", d.publish(nil, mediatest.Clip(t, "noaudio"), "title", "t"), 2)
	expectCode(t, "publishing with a forged token", d.publish(qs("token", "garbage"), mediatest.Clip(t, "noaudio")), 2)
	expectCode(t, "publishing over the size limit", d.publish(nil, mediatest.Clip(t, "long"), "token", token), 8)
	expectCode(t, "publishing without data", d.publish(nil, "", "token", token, "title", "t"), 1)
	expectCode(t, "publishing a title too long", d.publish(nil, mediatest.Clip(t, "noaudio"), "token", token, "title", strings.Repeat("t", 151)), 1)
	if n := len(list(t, d.get("/douyin/publish/list/", qs("token", token)), "video_list", videoKeys)); n != 1 {
		t.Errorf("rejected uploads made videos: %d listed", n)
	}

	// Failed logins are limited, with Retry-After, and still carry both keys.
	var last map[string]any
	for range 6 {
		last = d.post("/douyin/user/login/", nil, qs("username", "dave", "password", "guess-pass"))
	}
	expectCode(t, "the sixth wrong password", last, 9)
	checkKeys(t, "rate limited login", last, sessionKeys)
	req, _ := http.NewRequest("POST", srv.URL+"/douyin/user/login/?username=dave&password=guess-pass", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("rate limited login: HTTP %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// TestDouyinManyUsers is what the independent Douyin test suites do: dozens
// of users registered from one address, with REEL_SIGNUP_LIMIT raised; each
// gets a working token. Without the raise, the default limit answers code 9
// with Retry-After.
func TestDouyinManyUsers(t *testing.T) {
	srv := startServer(t, map[string]string{"REEL_SIGNUP_LIMIT": "1000/1m"})
	d := dy{t, srv}
	for i := range 60 {
		name := fmt.Sprintf("suite_user_%d", i)
		reg := d.post("/douyin/user/register/", qs("username", name, "password", "suite-pass"), nil)
		expectOK(t, "register "+name, reg)
		u := d.get("/douyin/user/", qs("token", reg["token"].(string)))
		expectOK(t, "user info of "+name, u)
		if num(u["user"].(map[string]any)["id"]) != num(reg["user_id"]) {
			t.Fatalf("%s: token of user %v answers user %v", name, reg["user_id"], u["user"])
		}
	}

	def := dy{t, startServer(t, nil)}
	for i := range 20 {
		expectOK(t, "register within the default limit", def.post("/douyin/user/register/", nil, qs("username", fmt.Sprintf("u%d", i+100), "password", "suite-pass")))
	}
	req, err := http.NewRequest("POST", def.srv.URL+"/douyin/user/register/", strings.NewReader(qs("username", "one_more", "password", "suite-pass").Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	expectCode(t, "the 21st sign-up in an hour", m, 9)
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || secs < 1 {
		t.Errorf("Retry-After = %q", resp.Header.Get("Retry-After"))
	}
}

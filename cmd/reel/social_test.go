package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

// TestSocialAPI walks the social endpoints of docs/api.md as two users would.
func TestSocialAPI(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, map[string]string{"REEL_DATABASE_URL": dbURL})
		ann, bo := signUp(t, srv, "ann"), signUp(t, srv, "bob")
		v := readyVideo(t, srv, ann, "public")
		private := readyVideo(t, srv, ann, "private")
		video := fmt.Sprintf("/api/v1/videos/%d", v.ID)

		// Feed: anonymous and personal.
		var feed struct {
			Videos []struct {
				ID               int64 `json:"id"`
				IsLiked          bool  `json:"is_liked"`
				LikeCount        int64 `json:"like_count"`
				ResumePositionMS int64 `json:"resume_position_ms"`
				Author           struct {
					IsFollowing bool `json:"is_following"`
				} `json:"author"`
				PlayURL string `json:"play_url"`
			} `json:"videos"`
			NextCursor *string `json:"next_cursor"`
		}
		srv.do("GET", "/api/v1/feed", "", nil).json(t, &feed)
		if len(feed.Videos) != 1 || feed.Videos[0].ID != v.ID || feed.NextCursor == nil || *feed.NextCursor != "" || feed.Videos[0].PlayURL == "" {
			t.Fatalf("anonymous feed: %+v", feed)
		}
		expect(t, srv.do("GET", "/api/v1/feed?limit=0", "", nil), 400, "bad_request")
		expect(t, srv.do("GET", "/api/v1/feed?limit=51", "", nil), 400, "bad_request")
		expect(t, srv.do("GET", "/api/v1/feed?cursor=bogus", "", nil), 400, "bad_request")
		expect(t, srv.do("GET", "/api/v1/feed/following", "", nil), 401, "unauthorized")

		// Likes: idempotent both ways, 404 for missing and private videos.
		for range 2 {
			expect(t, srv.do("PUT", video+"/like", bo, nil), http.StatusNoContent, "")
		}
		expect(t, srv.do("PUT", fmt.Sprintf("/api/v1/videos/%d/like", private.ID), bo, nil), 404, "not_found")
		expect(t, srv.do("PUT", "/api/v1/videos/999999/like", bo, nil), 404, "not_found")
		expect(t, srv.do("PUT", video+"/like", "", nil), 401, "unauthorized")
		srv.do("GET", "/api/v1/feed", bo, nil).json(t, &feed)
		if !feed.Videos[0].IsLiked || feed.Videos[0].LikeCount != 1 {
			t.Errorf("bo's feed after liking: %+v", feed.Videos[0])
		}
		srv.do("GET", "/api/v1/feed", ann, nil).json(t, &feed)
		if feed.Videos[0].IsLiked {
			t.Error("ann sees bo's like as hers")
		}
		var likes struct{ Videos []struct{ ID int64 } }
		srv.do("GET", "/api/v1/users/2/likes", "", nil).json(t, &likes)
		if len(likes.Videos) != 1 || likes.Videos[0].ID != v.ID {
			t.Errorf("bo's likes: %+v", likes)
		}
		for range 2 {
			expect(t, srv.do("DELETE", video+"/like", bo, nil), http.StatusNoContent, "")
		}

		// Comments.
		r := srv.do("POST", video+"/comments", bo, map[string]string{"text": "nice"})
		expect(t, r, http.StatusCreated, "")
		var comment struct {
			ID      int64  `json:"id"`
			VideoID int64  `json:"video_id"`
			Text    string `json:"text"`
			User    struct {
				Username string `json:"username"`
			} `json:"user"`
			CreatedAt string `json:"created_at"`
		}
		r.json(t, &comment)
		if comment.Text != "nice" || comment.User.Username != "bob" || comment.VideoID != v.ID || comment.CreatedAt == "" {
			t.Errorf("comment: %s", r.Body)
		}
		expect(t, srv.do("POST", video+"/comments", bo, map[string]string{"text": ""}), 422, "invalid")
		expect(t, srv.do("POST", video+"/comments", bo, map[string]string{"text": strings.Repeat("é", 501)}), 422, "invalid")
		expect(t, srv.do("POST", video+"/comments", bo, map[string]string{"text": strings.Repeat("é", 500)}), 201, "")
		expect(t, srv.do("POST", fmt.Sprintf("/api/v1/videos/%d/comments", private.ID), bo, map[string]string{"text": "x"}), 404, "not_found")
		var comments struct {
			Comments []struct{ ID int64 } `json:"comments"`
		}
		srv.do("GET", video+"/comments?limit=1", "", nil).json(t, &comments)
		if len(comments.Comments) != 1 || comments.Comments[0].ID == comment.ID {
			t.Errorf("newest comment first: %+v", comments)
		}
		expect(t, srv.do("DELETE", fmt.Sprintf("/api/v1/comments/%d", comment.ID), signUp(t, srv, "cyd"), nil), 403, "forbidden")
		expect(t, srv.do("DELETE", fmt.Sprintf("/api/v1/comments/%d", comment.ID), ann, nil), http.StatusNoContent, "")

		// Follows and friends.
		expect(t, srv.do("PUT", "/api/v1/users/2/follow", bo, nil), 422, "invalid")
		expect(t, srv.do("PUT", "/api/v1/users/999999/follow", bo, nil), 404, "not_found")
		for range 2 {
			expect(t, srv.do("PUT", "/api/v1/users/1/follow", bo, nil), http.StatusNoContent, "")
		}
		var users struct {
			Users []struct {
				ID          int64 `json:"id"`
				IsFollowing bool  `json:"is_following"`
			} `json:"users"`
		}
		srv.do("GET", "/api/v1/users/1/friends", "", nil).json(t, &users)
		if len(users.Users) != 0 {
			t.Errorf("friends before following back: %+v", users)
		}
		expect(t, srv.do("PUT", "/api/v1/users/2/follow", ann, nil), http.StatusNoContent, "")
		srv.do("GET", "/api/v1/users/1/friends", bo, nil).json(t, &users)
		if len(users.Users) != 1 || users.Users[0].ID != 2 {
			t.Errorf("ann's friends: %+v", users)
		}
		srv.do("GET", "/api/v1/users/1/followers", ann, nil).json(t, &users)
		if len(users.Users) != 1 || !users.Users[0].IsFollowing {
			t.Errorf("ann's followers as ann sees them: %+v", users)
		}
		srv.do("GET", "/api/v1/feed/following", bo, nil).json(t, &feed)
		if len(feed.Videos) != 1 || !feed.Videos[0].Author.IsFollowing {
			t.Errorf("bo's following feed: %+v", feed)
		}
		var me struct {
			FollowerCount  int64 `json:"follower_count"`
			FollowingCount int64 `json:"following_count"`
			IsFollowing    bool  `json:"is_following"`
		}
		srv.do("GET", "/api/v1/users/1", bo, nil).json(t, &me)
		if me.FollowerCount != 1 || me.FollowingCount != 1 || !me.IsFollowing {
			t.Errorf("ann as bo sees her: %+v", me)
		}

		// Messages, visible from both sides.
		expect(t, srv.do("POST", "/api/v1/users/1/messages", bo, map[string]string{"text": "hey ann"}), 201, "")
		r = srv.do("POST", "/api/v1/users/2/messages", ann, map[string]string{"text": "hey bo"})
		expect(t, r, 201, "")
		var sent struct {
			ID         int64 `json:"id"`
			FromUserID int64 `json:"from_user_id"`
			ToUserID   int64 `json:"to_user_id"`
		}
		r.json(t, &sent)
		if sent.FromUserID != 1 || sent.ToUserID != 2 {
			t.Errorf("message: %s", r.Body)
		}
		expect(t, srv.do("POST", "/api/v1/users/2/messages", bo, map[string]string{"text": "me"}), 422, "invalid")
		var conv struct {
			Messages []struct {
				ID   int64  `json:"id"`
				Text string `json:"text"`
			} `json:"messages"`
		}
		for _, pair := range [][2]string{{ann, "/api/v1/users/2/messages"}, {bo, "/api/v1/users/1/messages"}} {
			srv.do("GET", pair[1], pair[0], nil).json(t, &conv)
			if len(conv.Messages) != 2 || conv.Messages[0].Text != "hey ann" || conv.Messages[1].Text != "hey bo" {
				t.Errorf("conversation: %+v", conv)
			}
		}
		srv.do("GET", fmt.Sprintf("/api/v1/users/1/messages?after=%d", conv.Messages[0].ID), bo, nil).json(t, &conv)
		if len(conv.Messages) != 1 || conv.Messages[0].Text != "hey bo" {
			t.Errorf("after: %+v", conv)
		}
		expect(t, srv.do("GET", "/api/v1/users/1/messages?after=x", bo, nil), 400, "bad_request")
		expect(t, srv.do("GET", "/api/v1/users/1/messages", "", nil), 401, "unauthorized")
	})
}

// TestConcurrentLikesOverHTTP: 200 concurrent like/unlike requests leave
// like_count equal to the likes that exist.
func TestConcurrentLikesOverHTTP(t *testing.T) {
	srv := startServer(t, nil)
	owner := signUp(t, srv, "popular")
	v := readyVideo(t, srv, owner, "public")
	tokens := make([]string, 10)
	for i := range tokens {
		tokens[i] = signUp(t, srv, fmt.Sprintf("fan%d", i))
	}
	var wg sync.WaitGroup
	for i := range 200 {
		method := []string{"PUT", "DELETE"}[i%2]
		token := tokens[i%len(tokens)]
		wg.Go(func() {
			req, _ := http.NewRequest(method, fmt.Sprintf("%s/api/v1/videos/%d/like", srv.URL, v.ID), nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				t.Errorf("%s like: %d", method, resp.StatusCode)
			}
		})
	}
	wg.Wait()
	liked := 0
	var got struct {
		LikeCount int   `json:"like_count"`
		IsLiked   bool  `json:"is_liked"`
		ID        int64 `json:"id"`
	}
	for _, token := range tokens {
		srv.do("GET", fmt.Sprintf("/api/v1/videos/%d", v.ID), token, nil).json(t, &got)
		if got.IsLiked {
			liked++
		}
	}
	if got.LikeCount != liked {
		t.Errorf("like_count %d, but %d users like it", got.LikeCount, liked)
	}
}

package douyin

import (
	"context"

	"github.com/gin-gonic/gin"

	"github.com/reel-video/reel"
)

type commentAnswer struct {
	Status
	Comment *Comment `json:"comment,omitempty"`
}

type commentListAnswer struct {
	Status
	CommentList []Comment `json:"comment_list"`
}

type userListAnswer struct {
	Status
	UserList []User `json:"user_list"`
}

type friendListAnswer struct {
	Status
	UserList []FriendUser `json:"user_list"`
}

type messageListAnswer struct {
	Status
	MessageList []Message `json:"message_list"`
}

// CommentAction handles POST /douyin/comment/action/: token, video_id,
// action_type 1 (add comment_text; answers the new comment) or 2 (delete
// comment_id; allowed to the comment's author and the video's owner).
// Deleting a comment that no longer exists succeeds, like every repeated
// action of this API.
func CommentAction(d Deps) gin.HandlerFunc {
	a := newAPI(d)
	return a.handle(func(c *gin.Context) (any, error) {
		viewer, err := a.requireViewer(c)
		if err != nil {
			return nil, err
		}
		action, err := actionType(c, 1, 2)
		if err != nil {
			return nil, err
		}
		// Deleting names the comment; video_id is then only checked for form.
		video, err := idParam(c, "video_id", action == 1)
		if err != nil {
			return nil, err
		}
		ctx := c.Request.Context()
		if action == 1 {
			cm, err := a.Social.AddComment(ctx, viewer, video, param(c, "comment_text"))
			if err != nil {
				return nil, err
			}
			out := toComment(cm)
			return commentAnswer{Status: ok, Comment: &out}, nil
		}
		id, err := idParam(c, "comment_id", true)
		if err != nil {
			return nil, err
		}
		if err := a.Social.DeleteComment(ctx, id, viewer); err != nil && reel.ErrorCode(err) != reel.ENOTFOUND {
			return nil, err
		}
		return commentAnswer{Status: ok}, nil
	})
}

// CommentList handles GET /douyin/comment/list/: video_id, token (opt) →
// the video's newest ListLimit comments, newest first.
func CommentList(d Deps) gin.HandlerFunc {
	a := newAPI(d)
	return a.handle(func(c *gin.Context) (any, error) {
		viewer, err := a.viewer(c)
		if err != nil {
			return nil, err
		}
		video, err := idParam(c, "video_id", true)
		if err != nil {
			return nil, err
		}
		comments, _, err := a.Social.Comments(c.Request.Context(), video, viewer, reel.Page{Limit: ListLimit})
		if err != nil {
			return nil, err
		}
		out := make([]Comment, 0, len(comments))
		for _, cm := range comments {
			out = append(out, toComment(cm))
		}
		return commentListAnswer{Status: ok, CommentList: out}, nil
	})
}

// RelationAction handles POST /douyin/relation/action/: token, to_user_id,
// action_type 1 (follow) or 2 (unfollow); both idempotent. Following
// oneself is a bad parameter.
func RelationAction(d Deps) gin.HandlerFunc {
	return newAPI(d).toggle("to_user_id", reel.SocialService.Follow, reel.SocialService.Unfollow)
}

// toggle is an action handler: token, the id in param, action_type 1 (on)
// or 2 (off); both idempotent, as the services are.
func (a *api) toggle(param string, on, off func(reel.SocialService, context.Context, int64, int64) error) gin.HandlerFunc {
	return a.handle(func(c *gin.Context) (any, error) {
		viewer, err := a.requireViewer(c)
		if err != nil {
			return nil, err
		}
		id, err := idParam(c, param, true)
		if err != nil {
			return nil, err
		}
		action, err := actionType(c, 1, 2)
		if err != nil {
			return nil, err
		}
		act := on
		if action == 2 {
			act = off
		}
		if err := act(a.Social, c.Request.Context(), viewer, id); err != nil {
			return nil, err
		}
		return ok, nil
	})
}

// FollowList handles GET /douyin/relation/follow/list/: user_id, token
// (opt) → the ListLimit users user_id followed most recently.
func FollowList(d Deps) gin.HandlerFunc {
	return newAPI(d).userList(reel.SocialService.Following)
}

// FollowerList handles GET /douyin/relation/follower/list/: user_id, token
// (opt) → the ListLimit users who followed user_id most recently.
func FollowerList(d Deps) gin.HandlerFunc {
	return newAPI(d).userList(reel.SocialService.Followers)
}

type userLister func(s reel.SocialService, ctx context.Context, userID, viewerID int64, p reel.Page) ([]*reel.User, string, error)

func (a *api) userList(list userLister) gin.HandlerFunc {
	return a.handle(func(c *gin.Context) (any, error) {
		viewer, err := a.viewer(c)
		if err != nil {
			return nil, err
		}
		id, err := a.userParam(c, viewer)
		if err != nil {
			return nil, err
		}
		users, _, err := list(a.Social, c.Request.Context(), id, viewer, reel.Page{Limit: ListLimit})
		if err != nil {
			return nil, err
		}
		return userListAnswer{Status: ok, UserList: toUsers(users)}, nil
	})
}

// FriendList handles GET /douyin/relation/friend/list/: user_id (absent or
// 0: the token's user), token → the ListLimit newest mutual follows, each
// with the latest message between them and the viewer. Messages are
// private, so the list is only the viewer's own.
func FriendList(d Deps) gin.HandlerFunc {
	a := newAPI(d)
	return a.handle(func(c *gin.Context) (any, error) {
		viewer, err := a.requireViewer(c)
		if err != nil {
			return nil, err
		}
		id, err := a.userParam(c, viewer)
		if err != nil {
			return nil, err
		}
		if id != viewer {
			return nil, reel.Errorf(reel.EFORBIDDEN, "the friend list carries your messages: ask for your own (user_id %d)", viewer)
		}
		ctx := c.Request.Context()
		friends, _, err := a.Social.Friends(ctx, viewer, viewer, reel.Page{Limit: ListLimit})
		if err != nil {
			return nil, err
		}
		ids := make([]int64, len(friends))
		for i, u := range friends {
			ids[i] = u.ID
		}
		latest, err := a.Social.LatestMessages(ctx, viewer, ids) // one query for all of them
		if err != nil {
			return nil, err
		}
		out := make([]FriendUser, 0, len(friends))
		for _, u := range friends {
			f := FriendUser{User: toUser(u)}
			if m := latest[u.ID]; m != nil {
				f.Message = m.Text
				if m.FromUserID == viewer {
					f.MsgType = 1
				}
			}
			out = append(out, f)
		}
		return friendListAnswer{Status: ok, UserList: out}, nil
	})
}

// MessageAction handles POST /douyin/message/action/: token, to_user_id,
// action_type 1 (send), content.
func MessageAction(d Deps) gin.HandlerFunc {
	a := newAPI(d)
	return a.handle(func(c *gin.Context) (any, error) {
		viewer, err := a.requireViewer(c)
		if err != nil {
			return nil, err
		}
		to, err := idParam(c, "to_user_id", true)
		if err != nil {
			return nil, err
		}
		if _, err := actionType(c, 1); err != nil {
			return nil, err
		}
		if _, err := a.Social.SendMessage(c.Request.Context(), viewer, to, param(c, "content")); err != nil {
			return nil, err
		}
		return ok, nil
	})
}

// MessageChat handles GET /douyin/message/chat/: token, to_user_id,
// pre_msg_time (opt) → the conversation between the viewer and to_user_id,
// oldest first: the messages created after pre_msg_time (epoch
// milliseconds; a value in seconds covers its whole second), or from the
// beginning when it is absent or 0, at most reel.MaxMessagesPage of them.
// A client that polls with the create_time of the last message it has gets
// each message once.
func MessageChat(d Deps) gin.HandlerFunc {
	a := newAPI(d)
	return a.handle(func(c *gin.Context) (any, error) {
		viewer, err := a.requireViewer(c)
		if err != nil {
			return nil, err
		}
		to, err := idParam(c, "to_user_id", true)
		if err != nil {
			return nil, err
		}
		after, inSeconds, err := timeParam(c, "pre_msg_time")
		if err != nil {
			return nil, err
		}
		if inSeconds {
			after += 999
		}
		messages, err := messagesAfter(c.Request.Context(), a.Social, viewer, to, after)
		if err != nil {
			return nil, err
		}
		out := make([]Message, 0, len(messages))
		for _, m := range messages {
			out = append(out, toMessage(m))
		}
		return messageListAnswer{Status: ok, MessageList: out}, nil
	})
}

// messagesAfter returns the messages between a and b created after the
// epoch millisecond afterMS (all of them for 0), oldest first, at most
// reel.MaxMessagesPage.
//
// SocialService pages a conversation by message id, and ids grow with
// creation time, so the first message after afterMS is found by its id: in
// one query when nothing is new (the common poll), in one more when it lies
// among the first page, and otherwise by a binary search over ids, each
// step one page read. No step reads more than one page.
func messagesAfter(ctx context.Context, s reel.SocialService, a, b, afterMS int64) ([]*reel.Message, error) {
	if afterMS <= 0 {
		return s.Conversation(ctx, a, b, 0)
	}
	after := func(m *reel.Message) bool { return m.CreatedAt.UnixMilli() > afterMS }
	newer := func(page []*reel.Message) []*reel.Message {
		for i, m := range page {
			if after(m) {
				return page[i:]
			}
		}
		return page[:0]
	}

	latest, err := s.LatestMessages(ctx, a, []int64{b})
	if err != nil {
		return nil, err
	}
	last := latest[b]
	if last != nil && !after(last) {
		return []*reel.Message{}, nil
	}
	page, err := s.Conversation(ctx, a, b, 0) // also says whether b exists
	if err != nil || last == nil || len(page) < reel.MaxMessagesPage || after(page[len(page)-1]) {
		return newer(page), err
	}
	// Invariant: the messages up to id lo are not new, and the first message
	// after id hi is (last is new, so hi starts just below it).
	lo, hi := page[len(page)-1].ID, last.ID-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if page, err = s.Conversation(ctx, a, b, mid); err != nil {
			return nil, err
		}
		switch {
		case len(page) == 0 || after(page[0]):
			hi = mid
		case after(page[len(page)-1]):
			return newer(page), nil
		default:
			lo = page[len(page)-1].ID
		}
	}
	page, err = s.Conversation(ctx, a, b, lo)
	return newer(page), err
}

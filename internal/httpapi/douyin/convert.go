package douyin

import (
	"github.com/gin-gonic/gin"

	"github.com/reel-video/reel"
)

// The objects of the Douyin API (docs/api.md). Every field is always present: counts and
// booleans are never omitted, and a missing text is "".

// User is a reel.User as this API names its fields.
type User struct {
	ID              int64  `json:"id"`
	Name            string `json:"name"`
	FollowCount     int64  `json:"follow_count"`
	FollowerCount   int64  `json:"follower_count"`
	IsFollow        bool   `json:"is_follow"`
	Avatar          string `json:"avatar"`
	BackgroundImage string `json:"background_image"`
	Signature       string `json:"signature"`
	TotalFavorited  int64  `json:"total_favorited"`
	WorkCount       int64  `json:"work_count"`
	FavoriteCount   int64  `json:"favorite_count"`
}

// Video is a reel.Video with its author and signed media URLs.
type Video struct {
	ID            int64  `json:"id"`
	Author        User   `json:"author"`
	PlayURL       string `json:"play_url"`
	CoverURL      string `json:"cover_url"`
	FavoriteCount int64  `json:"favorite_count"`
	CommentCount  int64  `json:"comment_count"`
	IsFavorite    bool   `json:"is_favorite"`
	Title         string `json:"title"`
}

// Comment is a reel.Comment; create_date is its day as MM-DD in UTC.
type Comment struct {
	ID         int64  `json:"id"`
	User       User   `json:"user"`
	Content    string `json:"content"`
	CreateDate string `json:"create_date"`
}

// Message is a reel.Message; create_time is in epoch milliseconds.
type Message struct {
	ID         int64  `json:"id"`
	ToUserID   int64  `json:"to_user_id"`
	FromUserID int64  `json:"from_user_id"`
	Content    string `json:"content"`
	CreateTime int64  `json:"create_time"`
}

// FriendUser is a friend with the latest message between the viewer and
// them: MsgType 0 when the viewer received it, 1 when the viewer sent it.
type FriendUser struct {
	User
	Message string `json:"message"`
	MsgType int    `json:"msgType"`
}

func toUser(u *reel.User) User {
	if u == nil {
		return User{}
	}
	return User{
		ID:             u.ID,
		Name:           u.Username,
		FollowCount:    u.FollowingCount,
		FollowerCount:  u.FollowerCount,
		IsFollow:       u.IsFollowing,
		Avatar:         u.AvatarURL,
		TotalFavorited: u.LikedCount,
		WorkCount:      u.VideoCount,
		FavoriteCount:  u.LikeCount,
	}
}

func toUsers(users []*reel.User) []User {
	out := make([]User, 0, len(users))
	for _, u := range users {
		out = append(out, toUser(u))
	}
	return out
}

func toComment(cm *reel.Comment) Comment {
	return Comment{ID: cm.ID, User: toUser(cm.User), Content: cm.Text, CreateDate: cm.CreatedAt.UTC().Format("01-02")}
}

func toMessage(m *reel.Message) Message {
	return Message{ID: m.ID, ToUserID: m.ToUserID, FromUserID: m.FromUserID, Content: m.Text, CreateTime: m.CreatedAt.UnixMilli()}
}

// videos presents videos for the client of c. Every listed video has a
// play_url and a cover_url: until its progressive MP4 exists play_url is
// the stored original, and a video that has neither a cover nor an original
// yet (an unfinished tus upload, the instant between creating a published
// video and storing its file) or whose processing failed is left out.
func (a *api) videos(c *gin.Context, videos []*reel.Video) []Video {
	out := make([]Video, 0, len(videos))
	base, ip := a.BaseURL(c), c.ClientIP()
	for _, v := range videos {
		if v.Status == reel.StatusFailed || v.Author == nil {
			continue
		}
		a.URLs.Fill(v, base, ip, true)
		if v.PlayURL == "" || v.CoverURL == "" {
			continue
		}
		out = append(out, Video{
			ID:            v.ID,
			Author:        toUser(v.Author),
			PlayURL:       v.PlayURL,
			CoverURL:      v.CoverURL,
			FavoriteCount: v.LikeCount,
			CommentCount:  v.CommentCount,
			IsFavorite:    v.IsLiked,
			Title:         v.Title,
		})
	}
	return out
}

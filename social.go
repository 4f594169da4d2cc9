package reel

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Comment is a viewer's comment on a video.
type Comment struct {
	ID        int64     `json:"id"`
	VideoID   int64     `json:"video_id"`
	User      *User     `json:"user"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
}

// Message is a direct message between two users.
type Message struct {
	ID         int64     `json:"id"`
	FromUserID int64     `json:"from_user_id"`
	ToUserID   int64     `json:"to_user_id"`
	Text       string    `json:"text"`
	CreatedAt  time.Time `json:"created_at"`
}

// Limits of what people write.
const (
	MaxCommentLen = 500  // characters
	MaxMessageLen = 2000 // characters
	// MaxMessagesPage is how many messages one read of a conversation returns.
	MaxMessagesPage = 100
)

// Page asks for one page of a list: an opaque cursor from the previous
// page's NextCursor ("" for the first) and a limit of 1 to 50.
type Page struct {
	Cursor string
	Limit  int
}

// SocialService is the social graph: likes, comments, follows, messages and
// the feeds. Every count it keeps (like_count, comment_count,
// follower_count, following_count, like_count and liked_count of users) is
// changed in the same transaction as the row it counts, so counts are exact
// under any concurrency. Lists carry the viewer's flags (is_liked,
// is_following, resume_position_ms) and are assembled with a fixed number
// of queries whatever their length.
type SocialService interface {
	// Like and Unlike are idempotent. A video the user cannot see is ENOTFOUND.
	Like(ctx context.Context, userID, videoID int64) error
	Unlike(ctx context.Context, userID, videoID int64) error
	LikedVideos(ctx context.Context, userID, viewerID int64, p Page) ([]*Video, string, error)

	AddComment(ctx context.Context, userID, videoID int64, text string) (*Comment, error)
	// DeleteComment is allowed to the comment's author and the video's owner.
	DeleteComment(ctx context.Context, commentID, actorID int64) error
	Comments(ctx context.Context, videoID, viewerID int64, p Page) ([]*Comment, string, error)

	// Follow and Unfollow are idempotent; following oneself is EINVALID.
	Follow(ctx context.Context, followerID, followeeID int64) error
	Unfollow(ctx context.Context, followerID, followeeID int64) error
	Followers(ctx context.Context, userID, viewerID int64, p Page) ([]*User, string, error)
	Following(ctx context.Context, userID, viewerID int64, p Page) ([]*User, string, error)
	// Friends are mutual follows.
	Friends(ctx context.Context, userID, viewerID int64, p Page) ([]*User, string, error)

	SendMessage(ctx context.Context, fromID, toID int64, text string) (*Message, error)
	// Conversation returns the messages between a and b with ids above
	// afterID, oldest first, at most MaxMessagesPage.
	Conversation(ctx context.Context, a, b, afterID int64) ([]*Message, error)
	// LatestMessages returns, for each of others, the latest message between
	// userID and them (absent when there is none), in one query.
	LatestMessages(ctx context.Context, userID int64, others []int64) (map[int64]*Message, error)

	// Feed lists ready, public, unblocked videos, newest first.
	Feed(ctx context.Context, viewerID int64, p Page) ([]*Video, string, error)
	// FeedBefore is Feed from a point in time (the Douyin API's latest_time).
	FeedBefore(ctx context.Context, viewerID int64, before time.Time, limit int) ([]*Video, error)
	// FollowingFeed is Feed restricted to the authors viewerID follows.
	FollowingFeed(ctx context.Context, viewerID int64, p Page) ([]*Video, string, error)
}

// ValidateText checks a comment or message: not blank, valid UTF-8, at most
// max characters. field names the field in the error.
func ValidateText(field, text string, max int) error {
	switch {
	case !utf8.ValidString(text):
		return Invalid(map[string]string{field: "must be valid UTF-8"})
	case strings.TrimSpace(text) == "":
		return Invalid(map[string]string{field: "must not be empty"})
	case utf8.RuneCountInString(text) > max:
		return Invalid(map[string]string{field: fmt.Sprintf("must be at most %d characters", max)})
	}
	return nil
}

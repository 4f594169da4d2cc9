package sqlstore_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
)

// TestFinishUploadQuotaUnderParallelUploads finishes many uploads of one
// user at once, through two handles on the same database (two nodes): the
// quota is decided inside FinishUpload, so exactly as many as fit are kept
// and the others are refused with quota_exceeded, still uploading. Another
// user's uploads are not held back by them.
func TestFinishUploadQuotaUnderParallelUploads(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		w := newWorld(t, url, 2, 0)
		other := sqltest.OpenDB(t, url)
		other.SetQueue(fakeQueue{})
		const size, quota = 1000, 3500
		for _, db := range []interface{ SetUserQuota(int64) }{w.db, other} {
			db.SetUserQuota(quota)
		}
		ctx := t.Context()
		// 500 bytes already kept: room for 3 more uploads of 1000.
		kept := &reel.Video{AuthorID: w.users[0].ID, Title: "kept", Visibility: reel.VisibilityPublic, Status: reel.StatusUploading}
		if err := w.db.CreateVideo(ctx, kept); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.FinishUpload(ctx, kept.ID, "k", 500, ""); err != nil {
			t.Fatal(err)
		}
		const n = 16
		var ids []int64
		for i := range n {
			v := &reel.Video{AuthorID: w.users[i%2].ID, Title: fmt.Sprint(i), Visibility: reel.VisibilityPublic, Status: reel.StatusUploading}
			if err := w.db.CreateVideo(ctx, v); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, v.ID)
		}
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, id := range ids {
			db := w.db
			if i%4 >= 2 {
				db = other
			}
			wg.Go(func() {
				<-start
				_, errs[i] = db.FinishUpload(ctx, id, fmt.Sprint("o", i), size, "")
			})
		}
		close(start)
		wg.Wait()
		finished := map[int64]int{}
		for i, err := range errs {
			author := w.users[i%2].ID
			switch {
			case err == nil:
				finished[author]++
			case reel.ErrorCode(err) == reel.EQUOTA:
				v, ferr := w.db.FindVideoByID(ctx, ids[i], author)
				if ferr != nil || v.Status != reel.StatusUploading {
					t.Errorf("refused upload %d: %v, %+v; want it still uploading", i, ferr, v)
				}
			default:
				t.Errorf("upload %d: %v", i, err)
			}
		}
		if finished[w.users[0].ID] != 3 || finished[w.users[1].ID] != 3 {
			t.Errorf("finished %v per user, want 3 each", finished)
		}
		for _, u := range w.users {
			used, err := w.db.StoredBytes(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if used > quota {
				t.Errorf("user %d keeps %d bytes, above the %d-byte quota", u.ID, used, quota)
			}
		}
	})
}

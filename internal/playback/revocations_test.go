package playback

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/reel-video/reel"
)

// fakeRevocations is a RevocationStore in memory that records what it was
// asked.
type fakeRevocations struct {
	mu     sync.Mutex
	rows   map[int64]reel.MediaRevocation
	asked  []time.Time
	pruned []time.Time
	down   bool
}

func (f *fakeRevocations) MediaRevocations(_ context.Context, since time.Time, blocked bool) ([]reel.MediaRevocation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errors.New("database down")
	}
	f.asked = append(f.asked, since)
	var out []reel.MediaRevocation
	for _, r := range f.rows {
		if !r.ChangedAt.Before(since) || (blocked && r.Blocked) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fakeRevocations) PruneMediaRevocations(_ context.Context, before time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pruned = append(f.pruned, before)
	return nil
}

func (f *fakeRevocations) set(r reel.MediaRevocation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rows[r.VideoID] = r
}

// allowed asks r about a URL of video id signed for generation gen.
func allowed(r *Revocations, id, gen int64, file string) bool {
	return r.Allowed(context.Background(), Grant{Key: fmt.Sprintf("videos/%d/%s", id, file), Generation: gen})
}

func TestRevocations(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	keep := 8 * time.Hour
	store := &fakeRevocations{rows: map[int64]reel.MediaRevocation{
		1: {VideoID: 1, Blocked: true, ChangedAt: now.Add(-30 * 24 * time.Hour)},      // blocked long ago: still blocked
		2: {VideoID: 2, Generation: 2, ChangedAt: now.Add(-time.Hour)},                // made private an hour ago
		3: {VideoID: 3, Deleted: true, ChangedAt: now.Add(-time.Minute)},              // deleted
		4: {VideoID: 4, Generation: 1, ChangedAt: now.Add(-keep - time.Hour)},         // private for longer than any URL lives
		5: {VideoID: 5, Deleted: true, ChangedAt: now.Add(-keep - 2*time.Minute)},     // deleted as long ago
		6: {VideoID: 6, Blocked: false, ChangedAt: now.Add(-2 * 24 * time.Hour)},      // unblocked long ago
		7: {VideoID: 7, Blocked: true, Generation: 1, ChangedAt: now.Add(-time.Hour)}, // private, then blocked
	}}
	r := NewRevocations(store, keep, nil)
	r.now = func() time.Time { return now }
	var notified []int64
	r.OnChange(func(id int64) { notified = append(notified, id) })
	if err := r.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sorted(notified)) != "[1 2 3 7]" {
		t.Errorf("first read reported %v changed, want [1 2 3 7]: what it read", notified)
	}
	if len(store.asked) != 1 || !store.asked[0].Equal(now.Add(-keep)) {
		t.Fatalf("first read asked since %v, want %v", store.asked, now.Add(-keep))
	}
	for _, c := range []struct {
		id, gen int64
		want    bool
	}{
		{1, 0, false}, {1, 5, false}, // blocked: no URL
		{2, 0, false}, {2, 1, false}, {2, 2, true}, {2, 3, true}, // revoked generations only
		{3, 0, false}, {3, 9, false}, // deleted: no URL
		{4, 0, true}, {4, 1, true}, // forgotten: the old URLs have expired anyway
		{5, 0, true},
		{6, 0, true},
		{7, 1, false},
		{8, 0, true}, // never revoked
	} {
		if got := allowed(r, c.id, c.gen, "play.mp4"); got != c.want {
			t.Errorf("video %d generation %d: allowed %v, want %v", c.id, c.gen, got, c.want)
		}
	}
	if !r.Allowed(t.Context(), Grant{Key: "avatars/1/a.jpg"}) || !r.Allowed(t.Context(), Grant{Key: "videos/x/a"}) {
		t.Error("keys that are no video's are refused")
	}

	// Later reads ask only for what changed, reaching back by the overlap.
	now = now.Add(time.Second)
	store.set(reel.MediaRevocation{VideoID: 1, Blocked: false, ChangedAt: now})               // unblocked
	store.set(reel.MediaRevocation{VideoID: 8, Generation: 1, ChangedAt: now})                // made private
	store.set(reel.MediaRevocation{VideoID: 9, Blocked: true, Generation: 4, ChangedAt: now}) // blocked
	notified = nil
	if err := r.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sorted(notified)) != "[1 8 9]" {
		t.Errorf("second read reported %v changed, want [1 8 9] (what is read again unchanged is not reported)", notified)
	}
	if want := now.Add(-time.Second - revocationOverlap); !store.asked[1].Equal(want) {
		t.Errorf("second read asked since %v, want %v", store.asked[1], want)
	}
	if !allowed(r, 1, 0, "cover.jpg") || allowed(r, 8, 0, "play.mp4") || !allowed(r, 8, 1, "play.mp4") || allowed(r, 9, 4, "play.mp4") {
		t.Error("changes read incrementally were not applied")
	}

	// Apply takes effect at once, and a read that began before the change
	// committed (it returns the older state) does not undo it.
	now = now.Add(time.Second)
	r.Apply(reel.MediaRevocation{VideoID: 9, Blocked: false, Generation: 4, ChangedAt: now})
	r.Apply(reel.MediaRevocation{VideoID: 10, Deleted: true, ChangedAt: now})
	if !allowed(r, 9, 4, "play.mp4") || allowed(r, 10, 0, "play.mp4") {
		t.Error("Apply did not take effect at once")
	}
	if err := r.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !allowed(r, 9, 4, "play.mp4") || allowed(r, 10, 0, "play.mp4") {
		t.Error("an older read undid what Apply knew")
	}
	// A generation never goes back, a deletion is never undone.
	r.Apply(reel.MediaRevocation{VideoID: 8, Generation: 0, ChangedAt: now.Add(time.Second)})
	r.Apply(reel.MediaRevocation{VideoID: 10, ChangedAt: now.Add(time.Second)})
	if allowed(r, 8, 0, "play.mp4") || allowed(r, 10, 0, "play.mp4") {
		t.Error("a generation went back or a deletion was undone")
	}

	// A failed read keeps what the node knows.
	store.mu.Lock()
	store.down = true
	store.mu.Unlock()
	if r.Refresh(t.Context()) == nil || allowed(r, 2, 1, "play.mp4") || allowed(r, 3, 0, "play.mp4") {
		t.Error("a failed read lost the revocations")
	}

	// Entries are forgotten once no URL they revoke can still work; blocks stay.
	store.mu.Lock()
	store.down = false
	store.mu.Unlock()
	now = now.Add(keep + time.Hour)
	if err := r.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if m := *r.state.Load(); len(m) != 1 || !m[7].Blocked {
		t.Errorf("kept %v after every URL expired, want the block of video 7 only", m)
	}
	store.set(reel.MediaRevocation{VideoID: 11, Blocked: true, ChangedAt: now.Add(-keep * 2)})
	r2 := NewRevocations(store, keep, nil)
	r2.now = func() time.Time { return now }
	if err := r2.Refresh(t.Context()); err != nil || allowed(r2, 11, 0, "play.mp4") {
		t.Errorf("an old block was not loaded (%v)", err)
	}
}

func TestRevocationsRunPrunes(t *testing.T) {
	store := &fakeRevocations{rows: map[int64]reel.MediaRevocation{}}
	r := NewRevocations(store, time.Hour, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		r.Run(ctx, time.Millisecond, time.Millisecond)
		close(done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		store.mu.Lock()
		n, reads := len(store.pruned), len(store.asked)
		store.mu.Unlock()
		if n > 0 && reads > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Run read %d times and pruned %d times", reads, n)
		}
		<-time.After(time.Millisecond)
	}
	cancel()
	<-done
	store.mu.Lock()
	defer store.mu.Unlock()
	if before := store.pruned[0]; time.Since(before) < time.Hour-time.Minute {
		t.Errorf("pruned revocations changed before %v: newer than the keep period", before)
	}
}

func sorted(ids []int64) []int64 {
	out := append([]int64(nil), ids...)
	slices.Sort(out)
	return out
}

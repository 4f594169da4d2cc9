package httpapi

import (
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// route is one METHOD + path pair, registered or documented.
type route struct{ method, path string }

// The rows of docs/api.md's route tables: "| GET, HEAD /healthz | …" in the
// native tables, "| /douyin/feed/ | GET | …" in the Douyin one.
var (
	nativeRow = regexp.MustCompile(`^\| ((?:[A-Z]+, )*[A-Z]+) (/\S*) \|`)
	douyinRow = regexp.MustCompile(`^\| (/douyin/\S*) \| ([A-Z]+)(?: multipart)? \|`)
	// A route in the text that marks what is not served yet.
	notServed = regexp.MustCompile("`([A-Z]+) (/[^`]*)`")
)

// documentedRoutes returns the routes the tables of doc list, and those its
// "Not served yet" paragraph names.
func documentedRoutes(doc string) (listed, later []route) {
	inLater := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "Not served yet") {
			inLater = true
		} else if strings.TrimSpace(line) == "" {
			inLater = false
		}
		if inLater {
			for _, m := range notServed.FindAllStringSubmatch(line, -1) {
				later = append(later, route{m[1], m[2]})
			}
			continue
		}
		if m := nativeRow.FindStringSubmatch(line); m != nil {
			for _, method := range strings.Split(m[1], ", ") {
				listed = append(listed, route{method, m[2]})
			}
		} else if m := douyinRow.FindStringSubmatch(line); m != nil {
			listed = append(listed, route{m[2], m[1]})
		}
	}
	return listed, later
}

// serves reports whether the gin path pattern serves the documented path:
// ":id" stands for one segment ({id} in the docs), "*path" for the rest.
func serves(pattern, documented string) bool {
	ps, ds := strings.Split(pattern, "/"), strings.Split(documented, "/")
	for i, p := range ps {
		if strings.HasPrefix(p, "*") {
			return true
		}
		if i >= len(ds) {
			return false
		}
		// "@:username" stands for "@{username}": a literal prefix, then one parameter.
		if lit, _, ok := strings.Cut(p, ":"); ok && lit != "" {
			if !strings.HasPrefix(ds[i], lit+"{") {
				return false
			}
			continue
		}
		if !strings.HasPrefix(p, ":") && p != ds[i] {
			return false
		}
		if strings.HasPrefix(p, ":") && ds[i] == "" {
			return false
		}
	}
	return len(ps) == len(ds)
}

// TestAPIReferenceListsEveryRoute keeps docs/api.md in step with routes.go:
// every METHOD + path registered is in its tables, and every route the
// tables list is registered (what the docs say is not served yet is in no
// table). A path registered for every method (gin's Any) belongs to a
// protocol handler that answers the methods itself (tus); the methods it
// implements are documented, so it needs only its path documented.
func TestAPIReferenceListsEveryRoute(t *testing.T) {
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	listed, later := documentedRoutes(string(doc))
	// Every route once promised is served now: the "not served yet" list
	// may be empty.
	if len(listed) < 40 {
		t.Fatalf("read %d routes from the tables of docs/api.md (and %d not served yet): has its row format changed?", len(listed), len(later))
	}
	h, err := NewServer(Deps{Logger: slog.New(slog.DiscardHandler), Metrics: NewMetrics()})
	if err != nil {
		t.Fatal(err)
	}
	var registered []route
	methods := map[string]int{}
	for _, r := range h.(*gin.Engine).Routes() {
		registered = append(registered, route{r.Method, r.Path})
		methods[r.Path]++
	}
	if len(registered) < 40 {
		t.Fatalf("only %d routes registered", len(registered))
	}
	const anyMethods = 9 // what gin's Any registers

	for _, r := range registered {
		found := false
		for _, d := range listed {
			if d.method == r.method && serves(r.path, d.path) ||
				methods[r.path] == anyMethods && strings.HasPrefix(d.path, strings.Split(r.path, "*")[0]) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("docs/api.md does not document %s %s", r.method, r.path)
		}
	}
	for _, d := range append(listed, later...) {
		served := false
		for _, r := range registered {
			if r.method == d.method && serves(r.path, d.path) {
				served = true
				break
			}
		}
		isLater := false
		for _, l := range later {
			isLater = isLater || l == d
		}
		switch {
		case !served && !isLater:
			t.Errorf("docs/api.md lists %s %s, which is not registered", d.method, d.path)
		case served && isLater:
			t.Errorf("docs/api.md says %s %s is not served yet, but it is registered", d.method, d.path)
		}
	}
	for _, l := range later {
		for _, d := range listed {
			if l == d {
				t.Errorf("docs/api.md lists %s %s in a table and as not served yet", d.method, d.path)
			}
		}
	}
}

package web

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

// The built app wins; without it (a checkout where npm run build never
// ran) the committed page that says how to build it is served.
func TestPick(t *testing.T) {
	fallback := &fstest.MapFile{Data: []byte("build me")}
	built, ok := pick(fstest.MapFS{
		"dist/index.html":          {Data: []byte("the app")},
		"dist/assets/app-1a2b.js":  {Data: []byte("js")},
		"dist-fallback/index.html": fallback,
	})
	if b, _ := fs.ReadFile(built, "index.html"); !ok || string(b) != "the app" {
		t.Errorf("with dist: %q, built %v", b, ok)
	}
	for name, files := range map[string]fstest.MapFS{
		"no dist":          {"dist-fallback/index.html": fallback},
		"dist without app": {"dist/.keep": {}, "dist-fallback/index.html": fallback},
	} {
		app, ok := pick(files)
		if b, _ := fs.ReadFile(app, "index.html"); ok || string(b) != "build me" {
			t.Errorf("%s: %q, built %v", name, b, ok)
		}
	}
}

// What this binary embeds is one of the two, and the fallback tells how to
// build the app.
func TestApp(t *testing.T) {
	app, built := App()
	b, err := fs.ReadFile(app, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	if !built && !strings.Contains(string(b), "make build") {
		t.Errorf("the fallback page does not say how to build the app:\n%s", b)
	}
	fb, err := fs.ReadFile(files, "dist-fallback/index.html")
	if err != nil || !strings.Contains(string(fb), "npm ci") || strings.Contains(string(fb), "<script") || strings.Contains(string(fb), "style=") {
		t.Errorf("fallback page: %v\n%s", err, fb)
	}
}

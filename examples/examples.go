// Package examples holds the example bots as files, embedded so that the
// demo tenant of `conversa serve --demo` runs them. It is data only.
package examples

import (
	"embed"
	"io/fs"
)

//go:embed bots
var bots embed.FS

// Bot returns the files of an example bot (bots/<name>/*.yaml, without
// its tests), by file name.
func Bot(name string) (map[string][]byte, error) {
	dir := "bots/" + name
	entries, err := fs.ReadDir(bots, dir)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := fs.ReadFile(bots, dir+"/"+e.Name())
		if err != nil {
			return nil, err
		}
		out[e.Name()] = data
	}
	return out, nil
}

// Tests returns the test conversations of an example bot.
func Tests(name string) ([]byte, error) {
	return fs.ReadFile(bots, "bots/"+name+"/tests/conversations.yaml")
}

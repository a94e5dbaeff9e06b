package telegram

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"conversa/conversation"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of testdata/updates")

// TestParseGolden reads each Telegram Update of testdata/updates/*.json and
// compares what the channel makes of it with the .golden file beside it.
func TestParseGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "updates", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no updates in testdata: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			u, err := parseUpdate(data)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(u, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := strings.TrimSuffix(file, ".json") + ".golden"
			if *updateGolden {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs:\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
			if u.Inbound != nil {
				checkValid(t, u)
			}
		})
	}
}

// checkValid checks that the core accepts what the parser made of an
// update, once the media files are fetched (or noted as not kept).
func checkValid(t testing.TB, u update) {
	t.Helper()
	in := *u.Inbound
	in.Account = testBot
	in.Parts = append([]conversation.Part(nil), in.Parts...)
	for i := range u.Files {
		m := notKept(*in.Parts[i].Media, "file not kept: test")
		in.Parts[i].Media = &m
	}
	for i, p := range in.Parts {
		if p.Type == conversation.PartMedia && u.Files[i] == "" {
			t.Fatalf("media part %d has no file id", i)
		}
	}
	if err := in.Validate(); err != nil {
		t.Fatalf("the core refuses the parsed update: %v\n%+v", err, in)
	}
}

package conversa_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "conversa"

// layer returns the layer of a package of the module, as doc.go draws
// them, or -1 for packages that only tests may import.
func layer(pkg string) int {
	p := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	first, rest, _ := strings.Cut(p, "/")
	switch {
	case p == "":
		return 4
	case first == "conversation":
		return 0
	case first == "templates" || first == "examples":
		return 1 // examples is data: the example bots, embedded
	case first == "internal" && strings.HasPrefix(rest, "testenv"):
		return -1
	case first == "channels" && (rest == "" || strings.HasSuffix(rest, "test")):
		return 2 // the contract and its suite
	case first == "bot" || first == "handoff" || first == "notify" || first == "reports" || first == "billing":
		return 2
	case first == "channels" || first == "adapters" || first == "storage":
		return 3
	}
	return 4 // cmd, bench
}

// TestImportDirection checks every import of the module's non-test code:
// conversation uses the standard library only, and each package imports
// only lower layers, or its own ancestors (a contract's suite imports the
// contract). Test code may import anything.
func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		pkg, imports := fields[0], fields[1:]
		for _, imp := range imports {
			checked++
			internal := imp == module || strings.HasPrefix(imp, module+"/")
			if layer(pkg) == 0 && !internal && strings.Contains(strings.Split(imp, "/")[0], ".") {
				t.Errorf("%s imports %s: the domain uses the standard library only", pkg, imp)
			}
			if !internal {
				continue
			}
			lp, li := layer(pkg), layer(imp)
			switch {
			case li == -1:
				t.Errorf("%s imports %s, which only tests may import", pkg, imp)
			case strings.HasPrefix(pkg, imp+"/"):
				// A package may use its ancestors: channeltest uses channels.
			case component(pkg) != "" && component(pkg) == component(imp):
				// The dialogue engine is one component in several packages:
				// bot uses bot/nlu, bot/entity and bot/sentiment.
			case li >= lp:
				t.Errorf("%s (layer %d) imports %s (layer %d): imports go down the layers, and siblings never import each other", pkg, lp, imp, li)
			}
		}
	}
	if checked == 0 {
		t.Fatal("go list reported no imports")
	}
}

// component returns the layer-2 component a package belongs to when that
// component may span several packages that import each other, or "".
// Channels are not such a component: each channel package stands alone.
func component(pkg string) string {
	p := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	first, _, _ := strings.Cut(p, "/")
	if first == "bot" || first == "handoff" || first == "notify" {
		return first
	}
	return ""
}

func TestLayers(t *testing.T) {
	for pkg, want := range map[string]int{
		"conversa/conversation":                  0,
		"conversa/conversation/conversationtest": 0,
		"conversa/channels":                      2,
		"conversa/channels/channeltest":          2,
		"conversa/bot":                           2,
		"conversa/bot/nlu":                       2,
		"conversa/notify":                        2,
		"conversa/notify/notifytest":             2,
		"conversa/notify/survey":                 2,
		"conversa/notify/survey/surveytest":      2,
		"conversa/examples":                      1,
		"conversa/reports":                       2,
		"conversa/billing":                       2,
		"conversa/channels/webchat":              3,
		"conversa/adapters/api":                  3,
		"conversa/adapters/console":              3,
		"conversa/storage/postgres":              3,
		"conversa/cmd/conversa":                  4,
		"conversa/internal/testenv":              -1,
		"conversa/internal/testenv/bidi":         -1,
	} {
		if got := layer(pkg); got != want {
			t.Errorf("layer(%s) = %d, want %d", pkg, got, want)
		}
	}
}

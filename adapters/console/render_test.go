package console

import (
	"regexp"
	"strings"
	"testing"
)

func TestLinkify(t *testing.T) {
	for in, want := range map[string]string{
		"see https://example.com/a?b=1&c=2.": `see <a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer nofollow" target="_blank">https://example.com/a?b=1&amp;c=2</a>.`,
		"mail mailto:ana@example.com":        `mail <a href="mailto:ana@example.com" rel="noopener noreferrer nofollow" target="_blank">mailto:ana@example.com</a>`,
		"javascript:alert(1)":                `javascript:alert(1)`,
		"<b>hi</b> data:text/html,x":         `&lt;b&gt;hi&lt;/b&gt; data:text/html,x`,
		`http://x.example/"onmouseover=1`:    `<a href="http://x.example/" rel="noopener noreferrer nofollow" target="_blank">http://x.example/</a>&#34;onmouseover=1`,
	} {
		if got := string(linkify(in)); got != want {
			t.Errorf("linkify(%q)\n got %s\nwant %s", in, got, want)
		}
	}
}

// FuzzLinkify: whatever a customer writes, the only markup is the
// console's anchors.
func FuzzLinkify(f *testing.F) {
	for _, s := range []string{"https://a.example/x", "<script>", "mailto:x@y", "http://a\"b", "javascript:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := string(linkify(s))
		rest := out
		for {
			i := strings.Index(rest, "<")
			if i < 0 {
				break
			}
			rest = rest[i:]
			switch {
			case strings.HasPrefix(rest, `<a href="http`), strings.HasPrefix(rest, `<a href="mailto:`):
				end := strings.Index(rest, ">")
				if !strings.HasSuffix(rest[:end], `rel="noopener noreferrer nofollow" target="_blank"`) {
					t.Fatalf("linkify(%q) = %s", s, out)
				}
			case strings.HasPrefix(rest, "</a>"):
			default:
				t.Fatalf("linkify(%q) = %s: markup", s, out)
			}
			rest = rest[1:]
		}
	})
}

func TestAcceptLanguage(t *testing.T) {
	for h, want := range map[string]string{
		"":                        "es",
		"en-US,en;q=0.9":          "en",
		"es-CO,es;q=0.9,en;q=0.8": "es",
		"fr-FR,en;q=0.5,es;q=0.7": "es",
		"fr, en;q=0.1":            "en",
		"en;q=0, es;q=0":          "es",
		"de":                      "es",
		"EN":                      "en",
	} {
		if got := acceptLanguage(h); got != want {
			t.Errorf("acceptLanguage(%q) = %s, want %s", h, got, want)
		}
	}
}

func FuzzAcceptLanguage(f *testing.F) {
	f.Add("en-US,en;q=0.9")
	f.Add("es;q=abc,,;")
	f.Fuzz(func(t *testing.T, h string) {
		if got := acceptLanguage(h); got != "es" && got != "en" {
			t.Fatalf("acceptLanguage(%q) = %q", h, got)
		}
	})
}

// TestCatalogs: both languages have every word.
func TestCatalogs(t *testing.T) {
	for k := range catalogs["en"] {
		if _, ok := catalogs["es"][k]; !ok {
			t.Errorf("es lacks %s", k)
		}
	}
	for k := range catalogs["es"] {
		if _, ok := catalogs["en"][k]; !ok {
			t.Errorf("en lacks %s", k)
		}
	}
}

// TestTemplatesTranslated: every word a template asks for is in the
// catalogs.
func TestTemplatesTranslated(t *testing.T) {
	re := regexp.MustCompile(`t \$?\.?[A-Za-z]*\.?Lang "([a-z.]+)"|t \$lang "([a-z.]+)"`)
	entries, err := templateFS.ReadDir("templates")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, _ := templateFS.ReadFile("templates/" + e.Name())
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			key := m[1] + m[2]
			for lang := range catalogs {
				if _, ok := catalogs[lang][key]; !ok {
					t.Errorf("%s: %s lacks %q", e.Name(), lang, key)
				}
			}
		}
	}
}

package console

import (
	"encoding/xml"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// svgElement is an element of a drawn chart, with its attributes.
type svgElement struct {
	Name  string
	Attr  map[string]string
	Text  string
	Depth int
}

// parseSVG reads svg as XML, failing the test if it is not well formed,
// and returns its elements in order.
func parseSVG(t *testing.T, svg string) []svgElement {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(svg))
	var out []svgElement
	var stack []int
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the chart is not XML: %v\n%s", err, svg)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			el := svgElement{Name: tok.Name.Local, Attr: map[string]string{}, Depth: len(stack)}
			for _, a := range tok.Attr {
				el.Attr[a.Name.Local] = a.Value
			}
			out = append(out, el)
			stack = append(stack, len(out)-1)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				out[stack[len(stack)-1]].Text += string(tok)
			}
		}
	}
	if len(out) == 0 || out[0].Name != "svg" {
		t.Fatalf("no svg root in %s", svg)
	}
	return out
}

func num(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return v
}

func bars(els []svgElement) []svgElement {
	var out []svgElement
	for _, e := range els {
		if e.Name == "rect" && strings.HasPrefix(e.Attr["class"], "bar") {
			out = append(out, e)
		}
	}
	return out
}

func TestChartBarsProportional(t *testing.T) {
	c := chart{ID: "hours", Title: "Conversations by hour", XLabel: "Hour", YLabel: "Conversations", Empty: "No data",
		Labels: []string{"8", "9", "10", "11"}, Series: []series{{Name: "conversations", Values: []int64{10, 40, 20, 0}}}}
	els := parseSVG(t, string(c.SVG()))
	root := els[0]
	if root.Attr["role"] != "img" || root.Attr["aria-labelledby"] != "chart-hours" {
		t.Errorf("root attributes %v", root.Attr)
	}
	if els[1].Name != "title" || els[1].Text != "Conversations by hour" || els[1].Attr["id"] != "chart-hours" {
		t.Errorf("first child %+v, want the title", els[1])
	}
	bs := bars(els)
	if len(bs) != 4 {
		t.Fatalf("%d bars, want 4", len(bs))
	}
	want := []float64{10, 40, 20, 0}
	for i, b := range bs {
		h := num(t, b.Attr["height"])
		if math.Abs(h-want[i]*chartPlotHeight/40) > 0.1 {
			t.Errorf("bar %d height %v, want %v", i, h, want[i]*chartPlotHeight/40)
		}
		// Every bar stands on the axis.
		if base := num(t, b.Attr["y"]) + h; math.Abs(base-float64(chartTop+chartPlotHeight)) > 0.1 {
			t.Errorf("bar %d ends at %v", i, base)
		}
	}
	// The values and the axis labels are written as text.
	var texts []string
	for _, e := range els {
		if e.Name == "text" {
			texts = append(texts, e.Text)
		}
	}
	for _, w := range []string{"Hour", "Conversations", "40", "20", "10", "0", "8", "11"} {
		if !slices.Contains(texts, w) {
			t.Errorf("no text %q in %q", w, texts)
		}
	}
	// More labels, a wider chart.
	wide := c
	wide.Labels = make([]string, 24)
	wide.Series = []series{{Values: make([]int64, 24)}}
	if num(t, parseSVG(t, string(wide.SVG()))[0].Attr["width"]) <= num(t, root.Attr["width"]) {
		t.Error("24 labels do not make the chart wider than 4")
	}
}

func TestChartGroupedSeries(t *testing.T) {
	c := chart{ID: "channels", Title: "By channel", XLabel: "Channel", YLabel: "Messages",
		Labels: []string{"whatsapp", "webchat"},
		Series: []series{{Name: "in", Values: []int64{30, 10}}, {Name: "out", Values: []int64{15, 5}}}}
	els := parseSVG(t, string(c.SVG()))
	bs := bars(els)
	if len(bs) != 4 {
		t.Fatalf("%d bars, want 4", len(bs))
	}
	h := func(i int) float64 { return num(t, bs[i].Attr["height"]) }
	// Order: whatsapp in, whatsapp out, webchat in, webchat out.
	if h(0) != chartPlotHeight || math.Abs(h(1)-h(0)/2) > 0.1 || math.Abs(h(2)-h(0)/3) > 0.1 || math.Abs(h(3)-h(0)/6) > 0.1 {
		t.Errorf("heights %v %v %v %v", h(0), h(1), h(2), h(3))
	}
	if bs[0].Attr["class"] == bs[1].Attr["class"] {
		t.Error("two series drawn alike")
	}
	var legend int
	for _, e := range els {
		if e.Name == "text" && (e.Text == "in" || e.Text == "out") {
			legend++
		}
	}
	if legend != 2 {
		t.Errorf("legend has %d names, want 2", legend)
	}
}

func TestChartEmptyAndEscaped(t *testing.T) {
	for name, c := range map[string]chart{
		"no labels": {ID: "e", Title: "Nothing", Empty: "No data yet"},
		"all zero":  {ID: "z", Title: "Zeros", Empty: "No data yet", Labels: []string{"a"}, Series: []series{{Values: []int64{0}}}},
		"no series": {ID: "n", Title: "No series", Empty: "No data yet", Labels: []string{"a", "b"}},
	} {
		t.Run(name, func(t *testing.T) {
			els := parseSVG(t, string(c.SVG()))
			if len(bars(els)) != 0 {
				t.Error("bars drawn without data")
			}
			found := false
			for _, e := range els {
				found = found || (e.Name == "text" && e.Text == "No data yet")
			}
			if !found {
				t.Error("the chart does not say it has no data")
			}
		})
	}
	evil := `<script>alert("x")</script>&`
	c := chart{ID: `"><x`, Title: evil, XLabel: evil, YLabel: evil, Labels: []string{evil}, Series: []series{{Name: evil, Values: []int64{3}}, {Name: "b", Values: []int64{1}}}}
	svg := string(c.SVG())
	if strings.Contains(svg, "<script") {
		t.Fatalf("label not escaped: %s", svg)
	}
	els := parseSVG(t, svg)
	if els[1].Text != evil {
		t.Errorf("title %q, want the label as text", els[1].Text)
	}
}

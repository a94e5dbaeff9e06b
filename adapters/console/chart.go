package console

import (
	"fmt"
	"html"
	"html/template"
	"strconv"
	"strings"
)

// series is one row of values of a chart, a value per label.
type series struct {
	Name   string
	Values []int64
}

// chart is a bar chart the server draws as SVG: a bar per label, or a
// group of bars per label with several series (a legend names them).
// Sizes follow the data: the width grows with the labels, the bars'
// heights are proportional to their values, each bar's value is written
// above it, and the chart has a title, a description and axis labels for
// screen readers and print. No script, no style sheet of its own, no
// external asset: it prints as it shows.
type chart struct {
	// ID makes the chart's title element unique in the page.
	ID                    string
	Title, XLabel, YLabel string
	// Empty is what the chart says when it has nothing to show.
	Empty  string
	Labels []string
	Series []series
}

// Layout of a chart, in pixels.
const (
	chartPlotHeight = 160
	chartTop        = 28
	chartLeft       = 44
	chartRight      = 12
	chartBottom     = 44
	chartBar        = 14
	chartGap        = 8
)

// palette colours the series; the print style sheet turns them into greys.
var palette = []string{"#3566c8", "#e08a1e", "#3a9a5b", "#a44ca8"}

// SVG returns the chart as an inline <svg> element, every text escaped.
func (c chart) SVG() template.HTML {
	var peak int64
	for _, s := range c.Series {
		for _, v := range s.Values {
			peak = max(peak, v)
		}
	}
	legend := 0
	if len(c.Series) > 1 {
		legend = 18
	}
	n := len(c.Series)
	if n == 0 {
		n = 1
	}
	group := n*chartBar + chartGap
	width := chartLeft + len(c.Labels)*group + chartRight
	width = max(width, 260)
	rotate := false
	for _, l := range c.Labels {
		if len([]rune(l))*6 > group {
			rotate = true
		}
	}
	bottom := chartBottom
	if rotate {
		bottom += 24
	}
	top := chartTop + legend
	height := top + chartPlotHeight + bottom
	base := top + chartPlotHeight // the x axis

	var b strings.Builder
	e := html.EscapeString
	titleID := "chart-" + e(c.ID)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-labelledby="%s" width="%d" height="%d" viewBox="0 0 %d %d">`,
		titleID, width, height, width, height)
	fmt.Fprintf(&b, `<title id="%s">%s</title>`, titleID, e(c.Title))
	fmt.Fprintf(&b, `<desc>%s</desc>`, e(c.describe()))
	fmt.Fprintf(&b, `<text class="chart-title" x="%d" y="16" font-size="13" font-weight="600" fill="#1d2433">%s</text>`, chartLeft, e(c.Title))
	if legend > 0 {
		x := chartLeft
		for i, s := range c.Series {
			fmt.Fprintf(&b, `<rect class="s%d" x="%d" y="%d" width="10" height="10" fill="%s"/>`, i%len(palette), x, chartTop-6, palette[i%len(palette)])
			fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#1d2433">%s</text>`, x+14, chartTop+3, e(s.Name))
			x += 24 + 7*len([]rune(s.Name))
		}
	}
	// Axes and their labels.
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d" stroke="#1d2433"/>`, chartLeft, top, chartLeft, base)
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d" stroke="#1d2433"/>`, chartLeft, base, width-chartRight, base)
	fmt.Fprintf(&b, `<text class="axis-label" x="%d" y="%d" font-size="11" text-anchor="middle" fill="#1d2433">%s</text>`, (chartLeft+width-chartRight)/2, height-6, e(c.XLabel))
	fmt.Fprintf(&b, `<text class="axis-label" transform="translate(12 %d) rotate(-90)" font-size="11" text-anchor="middle" fill="#1d2433">%s</text>`, top+chartPlotHeight/2, e(c.YLabel))
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10" text-anchor="end" fill="#1d2433">%d</text>`, chartLeft-4, top+4, peak)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10" text-anchor="end" fill="#1d2433">0</text>`, chartLeft-4, base)
	if peak == 0 {
		fmt.Fprintf(&b, `<text class="empty" x="%d" y="%d" font-size="12" text-anchor="middle" fill="#555">%s</text>`, (chartLeft+width-chartRight)/2, top+chartPlotHeight/2, e(c.Empty))
	}
	for i, label := range c.Labels {
		x0 := chartLeft + chartGap/2 + i*group
		for j, s := range c.Series {
			var v int64
			if i < len(s.Values) {
				v = s.Values[i]
			}
			if peak == 0 {
				continue
			}
			h := float64(max(v, 0)) * chartPlotHeight / float64(peak)
			x := x0 + j*chartBar
			y := float64(base) - h
			fmt.Fprintf(&b, `<rect class="bar s%d" x="%d" y="%s" width="%d" height="%s" fill="%s"><title>%s</title></rect>`,
				j%len(palette), x, px(y), chartBar-2, px(h), palette[j%len(palette)], e(c.barTitle(label, s.Name, v)))
			fmt.Fprintf(&b, `<text class="value" x="%d" y="%s" font-size="9" text-anchor="middle" fill="#1d2433">%d</text>`, x+(chartBar-2)/2, px(y-3), v)
		}
		lx := x0 + (n*chartBar)/2
		if rotate {
			fmt.Fprintf(&b, `<text class="label" transform="translate(%d %d) rotate(-45)" font-size="10" text-anchor="end" fill="#1d2433">%s</text>`, lx, base+12, e(label))
		} else {
			fmt.Fprintf(&b, `<text class="label" x="%d" y="%d" font-size="10" text-anchor="middle" fill="#1d2433">%s</text>`, lx, base+14, e(label))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// describe says what the chart shows in words, for screen readers.
func (c chart) describe() string {
	if len(c.Labels) == 0 {
		return c.Empty
	}
	var b strings.Builder
	for i, label := range c.Labels {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(label + ":")
		for _, s := range c.Series {
			var v int64
			if i < len(s.Values) {
				v = s.Values[i]
			}
			if s.Name != "" && len(c.Series) > 1 {
				b.WriteString(" " + s.Name)
			}
			b.WriteString(" " + strconv.FormatInt(v, 10))
		}
	}
	return b.String()
}

func (c chart) barTitle(label, name string, v int64) string {
	if name != "" && len(c.Series) > 1 {
		return label + ", " + name + ": " + strconv.FormatInt(v, 10)
	}
	return label + ": " + strconv.FormatInt(v, 10)
}

// px writes a coordinate with at most one decimal.
func px(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

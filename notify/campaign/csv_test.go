package campaign

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"conversa/conversation"
)

// readAll reads a CSV upload into its contacts and report.
func readAll(t testing.TB, src, region string) ([]ContactImport, []int, ImportReport, error) {
	var cs []ContactImport
	var lines []int
	rep, err := ReadCSV(strings.NewReader(src), region, func(batch []ContactImport, ls []int) error {
		cs, lines = append(cs, batch...), append(lines, ls...)
		return nil
	})
	return cs, lines, rep, err
}

func phoneIDs(p string) []conversation.Identity {
	return []conversation.Identity{{Channel: conversation.ChannelWhatsApp, Address: p}, {Channel: conversation.ChannelSMS, Address: p}}
}

func TestReadCSV(t *testing.T) {
	src, err := os.ReadFile("testdata/contacts.csv")
	if err != nil {
		t.Fatal(err)
	}
	cs, lines, rep, err := readAll(t, string(src), "co")
	if err != nil {
		t.Fatal(err)
	}
	want := []ContactImport{
		{Name: "Ana Pérez", Language: "es", Attributes: map[string]string{"city": "bogota", "plan": "gold"},
			Identities: append(phoneIDs("+573001234567"), conversation.Identity{Channel: conversation.ChannelEmail, Address: "ana@example.com"})},
		{Name: "Gómez, Luis", Language: "en", Attributes: map[string]string{"city": "San Francisco"}, Identities: phoneIDs("+14155552671")},
		{Name: "Bien", Language: "es-CO", Attributes: map[string]string{"city": "medellin"}, Identities: phoneIDs("+573009876543")},
		{Name: "Varias\nlíneas", Identities: phoneIDs("+573005550000")},
	}
	if !reflect.DeepEqual(cs, want) {
		t.Fatalf("contacts\n%+v\nwant\n%+v", cs, want)
	}
	if wantLines := []int{2, 3, 7, 8}; !reflect.DeepEqual(lines, wantLines) {
		t.Fatalf("lines %v, want %v", lines, wantLines)
	}
	wantBad := []BadRow{
		{4, `phone "12" is not a valid phone number`},
		{5, "no channel: the row has neither a phone number nor an email address"},
		{6, "column 1: broken quoting: text after a closing quote"}, // the quote closes on line 8
		{10, `email "not-an-email" is not an email address`},
		{11, "column 2: broken quoting: a quote in an unquoted field"},
	}
	if rep.Rows != 9 || rep.Imported != 4 || rep.Bad != 5 || !reflect.DeepEqual(rep.BadRows, wantBad) {
		t.Fatalf("report %+v\nwant bad rows %+v", rep, wantBad)
	}
}

func TestReadCSVRejects(t *testing.T) {
	for name, tc := range map[string]struct{ src, want string }{
		"empty":           {"", "is empty"},
		"no channel":      {"name,city\nAna,cali\n", "needs a phone or an email column"},
		"bad header":      {"name,Phone Number\n", "names are lower-case"},
		"twice":           {"phone,phone\n", "twice"},
		"broken header":   {"\"phone\n", "header"},
		"long line":       {"phone\n" + strings.Repeat("1", maxLine+1) + "\n", "longer than"},
		"too many":        {strings.Repeat("c,", maxColumns) + "phone\n", "at most"},
		"fields mismatch": {"phone,name\n3001234567\n", ""},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, rep, err := readAll(t, tc.src, "CO")
			if tc.want == "" {
				if err != nil || rep.Bad != 1 || !strings.Contains(rep.BadRows[0].Reason, "fields") {
					t.Fatalf("report %+v, error %v; want one bad row", rep, err)
				}
				return
			}
			if conversation.ErrorCode(err) != conversation.EINVALID || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want EINVALID about %q", err, tc.want)
			}
		})
	}
}

// TestReadCSVBatchError: the batch's error ends the read.
func TestReadCSVBatchError(t *testing.T) {
	boom := errors.New("store down")
	_, err := ReadCSV(strings.NewReader("phone\n3001234567\n"), "CO", func([]ContactImport, []int) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want %v", err, boom)
	}
}

// millionRows generates a CSV of n rows without holding it.
type millionRows struct {
	n, i int
	buf  bytes.Buffer
}

func (m *millionRows) Read(p []byte) (int, error) {
	for m.buf.Len() < len(p) && m.i <= m.n {
		if m.i == 0 {
			m.buf.WriteString("name,phone,email,language\n")
		} else if m.i%100_000 == 0 {
			m.buf.WriteString("\"broken,3001234567,,es\n")
		} else if m.i%100 == 0 {
			fmt.Fprintf(&m.buf, "Cliente %d,300%07d,,es\n", m.i, m.i)
		} else {
			// Most rows by email: phone numbers cost their parser's
			// regular expressions, 15 µs each, which is not what this
			// test measures.
			fmt.Fprintf(&m.buf, "Cliente %d,,c%d@example.com,es\n", m.i, m.i)
		}
		m.i++
	}
	if m.buf.Len() == 0 {
		return 0, io.EOF
	}
	return m.buf.Read(p)
}

// TestReadCSVMillionRows: a million rows are read in bounded memory, the
// bad ones reported by line.
func TestReadCSVMillionRows(t *testing.T) {
	if testing.Short() {
		t.Skip("a million rows")
	}
	var before, peak runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	batches := 0
	rep, err := ReadCSV(&millionRows{n: 1_000_000}, "CO", func(cs []ContactImport, _ []int) error {
		batches++
		if batches%200 == 0 {
			runtime.ReadMemStats(&peak)
			if live := int64(peak.HeapAlloc) - int64(before.HeapAlloc); live > 64<<20 {
				return fmt.Errorf("%d MiB on the heap after %d batches", live>>20, batches)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 1_000_000 || rep.Bad != 10 || rep.Imported != 999_990 || rep.BadRows[0].Line != 100_001 {
		t.Fatalf("report: rows %d, imported %d, bad %d, first bad %+v", rep.Rows, rep.Imported, rep.Bad, rep.BadRows[0])
	}
}

func FuzzReadCSV(f *testing.F) {
	seed, err := os.ReadFile("testdata/contacts.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(seed))
	f.Add("phone\n\"3001234567\"\"\n")
	f.Add("email,phone\n\"a@b.co\",\"\n\n\n")
	f.Fuzz(func(t *testing.T, src string) {
		cs, lines, rep, err := readAll(t, src, "CO")
		if err != nil {
			if conversation.ErrorCode(err) != conversation.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		if rep.Imported != len(cs) || len(lines) != len(cs) || rep.Imported+rep.Bad != rep.Rows || len(rep.BadRows) > MaxBadRows {
			t.Fatalf("report %+v for %d contacts", rep, len(cs))
		}
		last := 1
		for i, c := range cs {
			if len(c.Identities) == 0 || lines[i] <= last {
				t.Fatalf("contact %d at line %d (after %d): %+v", i, lines[i], last, c)
			}
			last = lines[i]
		}
	})
}

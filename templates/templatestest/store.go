// Package templatestest holds the contract suite that every
// templates.Store must pass.
package templatestest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/templates"
)

// TestStore runs the templates.Store contract. newStore returns an empty
// store of its own for every subtest, as the conversation.Store that holds
// its tenants and the templates.Store under test (usually the same value);
// subtests run in parallel.
//
// Beyond the interface's words, the suite requires that sources come back
// byte for byte and that times are kept to the microsecond.
func TestStore(t *testing.T, newStore func(t *testing.T) (conversation.Store, templates.Store)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, cs conversation.Store, s templates.Store)
	}{
		{"Versions", testVersions},
		{"Unchanged", testUnchanged},
		{"Source", testSource},
		{"List", testList},
		{"Delete", testDelete},
		{"NotFound", testNotFound},
		{"TenantIsolation", testTenantIsolation},
		{"UnknownTenant", testUnknownTenant},
		{"ConcurrentSave", testConcurrentSave},
		{"ConcurrentSameSave", testConcurrentSameSave},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cs, s := newStore(t)
			tt.fn(t, cs, s)
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantNotFound(t *testing.T, err error, what string) {
	t.Helper()
	if !conversation.IsNotFound(err) {
		t.Fatalf("%s: error %v, want not found", what, err)
	}
}

func newTenant(t *testing.T, cs conversation.Store, slug string) int64 {
	t.Helper()
	tn := conversation.Tenant{Slug: slug, Name: "Tenant " + slug}
	must(t, tn.Validate())
	tn, err := cs.CreateTenant(t.Context(), tn)
	must(t, err)
	return tn.ID
}

// source returns a definition of purpose whose text says n.
func source(purpose string, n int) []byte {
	return fmt.Appendf(nil, "purpose: %s\nvariants:\n  - {channel: sms, language: es, text: \"versión %d\"}\n", purpose, n)
}

// save stores src as the tenant's next version of purpose.
func save(t *testing.T, s templates.Store, tenantID int64, purpose string, src []byte) (templates.Version, bool) {
	t.Helper()
	v := templates.Version{TenantID: tenantID, Purpose: purpose, Checksum: templates.Checksum(src), Source: src}
	created, err := s.SaveTemplate(t.Context(), &v)
	must(t, err)
	return v, created
}

// same reports how got differs from want, ignoring Source; "" when alike.
func same(got, want templates.Version) string {
	if got.TenantID != want.TenantID || got.Purpose != want.Purpose || got.Number != want.Number ||
		got.Checksum != want.Checksum || !got.CreatedAt.Equal(want.CreatedAt) {
		return fmt.Sprintf("got %+v, want %+v", strip(got), strip(want))
	}
	return ""
}

func strip(v templates.Version) templates.Version {
	v.Source = nil
	return v
}

func testVersions(t *testing.T, cs conversation.Store, s templates.Store) {
	tenant := newTenant(t, cs, "acme")
	start := time.Now().Add(-time.Second)
	v1, created := save(t, s, tenant, "case_resolved", source("case_resolved", 1))
	if !created || v1.Number != 1 {
		t.Fatalf("first save: version %d, created %v", v1.Number, created)
	}
	if v1.CreatedAt.Before(start) || v1.CreatedAt.After(time.Now().Add(time.Second)) || v1.CreatedAt != v1.CreatedAt.Truncate(time.Microsecond) {
		t.Errorf("CreatedAt %v is not now to the microsecond", v1.CreatedAt)
	}
	v2, created := save(t, s, tenant, "case_resolved", source("case_resolved", 2))
	if !created || v2.Number != 2 {
		t.Fatalf("second save: version %d, created %v", v2.Number, created)
	}
	// Another purpose has numbers of its own.
	o1, _ := save(t, s, tenant, "survey", source("survey", 1))
	if o1.Number != 1 {
		t.Errorf("survey: version %d, want 1", o1.Number)
	}

	latest, err := s.Template(t.Context(), tenant, "case_resolved")
	must(t, err)
	if d := same(latest, v2); d != "" {
		t.Errorf("Template: %s", d)
	}
	if string(latest.Source) != string(source("case_resolved", 2)) {
		t.Errorf("Template source %q", latest.Source)
	}
	old, err := s.TemplateVersion(t.Context(), tenant, "case_resolved", 1)
	must(t, err)
	if d := same(old, v1); d != "" {
		t.Errorf("TemplateVersion 1: %s", d)
	}
	if string(old.Source) != string(source("case_resolved", 1)) {
		t.Errorf("TemplateVersion 1 source %q", old.Source)
	}
	vs, err := s.TemplateVersions(t.Context(), tenant, "case_resolved")
	must(t, err)
	if len(vs) != 2 || same(vs[0], v2) != "" || same(vs[1], v1) != "" {
		t.Fatalf("TemplateVersions: %+v, want versions 2 and 1", vs)
	}
	for _, v := range vs {
		if v.Source != nil {
			t.Errorf("TemplateVersions lists version %d with its source", v.Number)
		}
	}
}

func testUnchanged(t *testing.T, cs conversation.Store, s templates.Store) {
	tenant := newTenant(t, cs, "acme")
	src := source("survey", 1)
	v1, _ := save(t, s, tenant, "survey", src)
	again, created := save(t, s, tenant, "survey", src)
	if created || same(again, v1) != "" {
		t.Fatalf("saving the same source: created %v, %s", created, same(again, v1))
	}
	if string(again.Source) != string(src) {
		t.Errorf("unchanged save gives source %q", again.Source)
	}
	// A change and a change back are two new versions: only the latest
	// counts as unchanged.
	save(t, s, tenant, "survey", source("survey", 2))
	back, created := save(t, s, tenant, "survey", src)
	if !created || back.Number != 3 {
		t.Errorf("saving version 1's source after version 2: version %d, created %v", back.Number, created)
	}
	vs, err := s.TemplateVersions(t.Context(), tenant, "survey")
	must(t, err)
	if len(vs) != 3 {
		t.Errorf("%d versions, want 3", len(vs))
	}
}

func testSource(t *testing.T, cs conversation.Store, s templates.Store) {
	tenant := newTenant(t, cs, "acme")
	// CRLF, trailing spaces, tabs, NUL and non-ASCII come back as given.
	src := []byte("purpose: survey\r\nvariants:   \r\n\t- x: \"¿Cómo? 😊\"\x00\r\n")
	save(t, s, tenant, "survey", src)
	got, err := s.Template(t.Context(), tenant, "survey")
	must(t, err)
	if string(got.Source) != string(src) || got.Checksum != templates.Checksum(src) {
		t.Errorf("source %q (checksum %s), want %q", got.Source, got.Checksum, src)
	}
}

func testList(t *testing.T, cs conversation.Store, s templates.Store) {
	tenant := newTenant(t, cs, "acme")
	list, err := s.ListTemplates(t.Context(), tenant)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("a new tenant lists %d templates", len(list))
	}
	for _, p := range []string{"survey", "appointment_reminder", "case_resolved"} {
		save(t, s, tenant, p, source(p, 1))
	}
	cr2, _ := save(t, s, tenant, "case_resolved", source("case_resolved", 2))
	list, err = s.ListTemplates(t.Context(), tenant)
	must(t, err)
	var got []string
	for _, v := range list {
		got = append(got, fmt.Sprintf("%s@%d", v.Purpose, v.Number))
		if v.Source != nil {
			t.Errorf("ListTemplates lists %s with its source", v.Purpose)
		}
		if v.Purpose == "case_resolved" && same(v, cr2) != "" {
			t.Errorf("ListTemplates: %s", same(v, cr2))
		}
	}
	if want := []string{"appointment_reminder@1", "case_resolved@2", "survey@1"}; !slices.Equal(got, want) {
		t.Errorf("ListTemplates: %v, want %v", got, want)
	}
}

func testDelete(t *testing.T, cs conversation.Store, s templates.Store) {
	tenant := newTenant(t, cs, "acme")
	src := source("survey", 2)
	save(t, s, tenant, "survey", source("survey", 1))
	v2, _ := save(t, s, tenant, "survey", src)
	save(t, s, tenant, "case_resolved", source("case_resolved", 1))
	must(t, s.DeleteTemplate(t.Context(), tenant, "survey"))

	_, err := s.Template(t.Context(), tenant, "survey")
	wantNotFound(t, err, "Template after delete")
	wantNotFound(t, s.DeleteTemplate(t.Context(), tenant, "survey"), "second delete")
	list, err := s.ListTemplates(t.Context(), tenant)
	must(t, err)
	if len(list) != 1 || list[0].Purpose != "case_resolved" {
		t.Errorf("ListTemplates after delete: %+v", list)
	}
	// The versions stay, to explain what was sent with them.
	old, err := s.TemplateVersion(t.Context(), tenant, "survey", 2)
	must(t, err)
	if same(old, v2) != "" || string(old.Source) != string(src) {
		t.Errorf("TemplateVersion after delete: %s", same(old, v2))
	}
	vs, err := s.TemplateVersions(t.Context(), tenant, "survey")
	must(t, err)
	if len(vs) != 2 {
		t.Errorf("TemplateVersions after delete: %d versions, want 2", len(vs))
	}
	// Saving again, even the same source, brings it back as a new version.
	back, created := save(t, s, tenant, "survey", src)
	if !created || back.Number != 3 {
		t.Errorf("save after delete: version %d, created %v; want a new version 3", back.Number, created)
	}
	latest, err := s.Template(t.Context(), tenant, "survey")
	must(t, err)
	if latest.Number != 3 {
		t.Errorf("Template after saving again: version %d", latest.Number)
	}
	list, err = s.ListTemplates(t.Context(), tenant)
	must(t, err)
	if len(list) != 2 {
		t.Errorf("ListTemplates after saving again: %+v", list)
	}
}

func testNotFound(t *testing.T, cs conversation.Store, s templates.Store) {
	tenant := newTenant(t, cs, "acme")
	_, err := s.Template(t.Context(), tenant, "survey")
	wantNotFound(t, err, "Template of nothing saved")
	_, err = s.TemplateVersions(t.Context(), tenant, "survey")
	wantNotFound(t, err, "TemplateVersions of nothing saved")
	wantNotFound(t, s.DeleteTemplate(t.Context(), tenant, "survey"), "DeleteTemplate of nothing saved")
	save(t, s, tenant, "survey", source("survey", 1))
	for _, n := range []int64{0, 2, -1} {
		_, err = s.TemplateVersion(t.Context(), tenant, "survey", n)
		wantNotFound(t, err, fmt.Sprintf("TemplateVersion %d", n))
	}
	_, err = s.TemplateVersion(t.Context(), tenant, "other", 1)
	wantNotFound(t, err, "TemplateVersion of another purpose")
}

func testTenantIsolation(t *testing.T, cs conversation.Store, s templates.Store) {
	a := newTenant(t, cs, "acme")
	b := newTenant(t, cs, "globex")
	save(t, s, a, "survey", source("survey", 1))
	save(t, s, a, "survey", source("survey", 2))

	_, err := s.Template(t.Context(), b, "survey")
	wantNotFound(t, err, "Template of another tenant")
	_, err = s.TemplateVersion(t.Context(), b, "survey", 1)
	wantNotFound(t, err, "TemplateVersion of another tenant")
	_, err = s.TemplateVersions(t.Context(), b, "survey")
	wantNotFound(t, err, "TemplateVersions of another tenant")
	wantNotFound(t, s.DeleteTemplate(t.Context(), b, "survey"), "DeleteTemplate of another tenant")
	list, err := s.ListTemplates(t.Context(), b)
	must(t, err)
	if len(list) != 0 {
		t.Errorf("another tenant lists %+v", list)
	}
	// The same source and purpose start at 1 for another tenant, and
	// leave the first tenant's alone.
	vb, created := save(t, s, b, "survey", source("survey", 2))
	if !created || vb.Number != 1 || vb.TenantID != b {
		t.Errorf("another tenant's first save: %+v, created %v", strip(vb), created)
	}
	va, err := s.Template(t.Context(), a, "survey")
	must(t, err)
	if va.Number != 2 || va.TenantID != a {
		t.Errorf("first tenant's latest: %+v", strip(va))
	}
}

func testUnknownTenant(t *testing.T, cs conversation.Store, s templates.Store) {
	newTenant(t, cs, "acme")
	src := source("survey", 1)
	v := templates.Version{TenantID: 1 << 40, Purpose: "survey", Checksum: templates.Checksum(src), Source: src}
	_, err := s.SaveTemplate(t.Context(), &v)
	wantNotFound(t, err, "SaveTemplate of an unknown tenant")
}

// testConcurrentSave saves different sources at once: the numbers are
// 1 to n, each once.
func testConcurrentSave(t *testing.T, cs conversation.Store, s templates.Store) {
	tenant := newTenant(t, cs, "acme")
	const n = 12
	numbers := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			src := source("survey", i)
			v := templates.Version{TenantID: tenant, Purpose: "survey", Checksum: templates.Checksum(src), Source: src}
			_, errs[i] = s.SaveTemplate(t.Context(), &v)
			numbers[i] = v.Number
		})
	}
	wg.Wait()
	for _, err := range errs {
		must(t, err)
	}
	slices.Sort(numbers)
	for i, got := range numbers {
		if got != int64(i+1) {
			t.Fatalf("numbers %v, want 1 to %d", numbers, n)
		}
	}
	vs, err := s.TemplateVersions(t.Context(), tenant, "survey")
	must(t, err)
	if len(vs) != n {
		t.Errorf("%d versions stored, want %d", len(vs), n)
	}
}

// testConcurrentSameSave saves one source at once many times: one
// version is created, and every save returns it.
func testConcurrentSameSave(t *testing.T, cs conversation.Store, s templates.Store) {
	tenant := newTenant(t, cs, "acme")
	const n = 12
	src := source("survey", 1)
	created := make([]bool, n)
	numbers := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			v := templates.Version{TenantID: tenant, Purpose: "survey", Checksum: templates.Checksum(src), Source: src}
			created[i], errs[i] = s.SaveTemplate(t.Context(), &v)
			numbers[i] = v.Number
		})
	}
	wg.Wait()
	creations := 0
	for i := range n {
		must(t, errs[i])
		if created[i] {
			creations++
		}
		if numbers[i] != 1 {
			t.Errorf("save %d: version %d, want 1", i, numbers[i])
		}
	}
	if creations != 1 {
		t.Errorf("%d saves created a version, want 1", creations)
	}
}

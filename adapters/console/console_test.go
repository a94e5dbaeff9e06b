package console_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"conversa/adapters/console"
	"conversa/handoff"
)

// rules is every console route and who may use it. A route added to the
// console without a rule here fails TestRouteTable.
var rules = map[string]console.Access{
	"GET /console":                              console.Public,
	"GET /console/static/":                      console.Public,
	"GET /console/login":                        console.Public,
	"POST /console/login":                       console.Public,
	"POST /console/logout":                      console.AnyAgent,
	"POST /console/language":                    console.AnyAgent,
	"GET /console/{$}":                          console.AnyAgent,
	"POST /console/status":                      console.AnyAgent,
	"GET /console/ws":                           console.AnyAgent,
	"GET /console/conversations/{id}":           console.AnyAgent,
	"POST /console/conversations/{id}/reply":    console.AnyAgent,
	"POST /console/conversations/{id}/accept":   console.AnyAgent,
	"POST /console/conversations/{id}/pick":     console.AnyAgent,
	"POST /console/conversations/{id}/transfer": console.AnyAgent,
	"POST /console/conversations/{id}/close":    console.AnyAgent,
	"POST /console/conversations/{id}/notes":    console.AnyAgent,
	"GET /console/supervisor":                   console.SupervisorOnly,
	"GET /console/dashboard":                    console.SupervisorOnly,
	"GET /console/dashboard.json":               console.SupervisorOnly,
	"GET /console/reports":                      console.SupervisorOnly,
	"GET /console/reports.csv":                  console.SupervisorOnly,
	"GET /console/admin/agents":                 console.AdminOnly,
	"POST /console/admin/agents":                console.AdminOnly,
	"POST /console/admin/agents/{id}":           console.AdminOnly,
	"POST /console/admin/teams":                 console.AdminOnly,
	"GET /console/admin/queues":                 console.AdminOnly,
	"POST /console/admin/queues":                console.AdminOnly,
	"GET /console/admin/canned":                 console.AdminOnly,
	"POST /console/admin/canned":                console.AdminOnly,
	"POST /console/admin/canned/{id}/delete":    console.AdminOnly,
	"GET /console/billing":                      console.AdminOnly,
	"GET /console/billing/export":               console.AdminOnly,
}

// TestRouteTable enumerates every console route and checks its rule by
// requests: without a session, as an agent, a supervisor and an admin, and
// without the CSRF token.
func TestRouteTable(t *testing.T) {
	e := newEnv(t, console.Config{})
	table := e.console.RouteTable()
	seen := map[string]bool{}
	for _, rt := range table {
		key := rt.Method + " " + rt.Path
		seen[key] = true
		want, ok := rules[key]
		if !ok {
			t.Errorf("route %s has no rule in the test", key)
			continue
		}
		if rt.Access != want {
			t.Errorf("route %s: access %s, want %s", key, rt.Access, want)
		}
	}
	for key := range rules {
		if !seen[key] {
			t.Errorf("rule for %s, which the console does not serve", key)
		}
	}

	e.queue(t, e.tenant, "General")
	conv := e.conversation(t, e.tenant, "Carla", "hola")
	roles := map[handoff.Role]handoff.Agent{
		handoff.RoleAgent:      e.agent(t, e.tenant, "Ana Agent", handoff.RoleAgent),
		handoff.RoleSupervisor: e.agent(t, e.tenant, "Sara Super", handoff.RoleSupervisor),
		handoff.RoleAdmin:      e.agent(t, e.tenant, "Alba Admin", handoff.RoleAdmin),
	}
	path := func(p string) string {
		p = strings.ReplaceAll(p, "{$}", "")
		return strings.ReplaceAll(p, "{id}", strconv.FormatInt(conv.ID, 10))
	}
	for _, rt := range table {
		key := rt.Method + " " + rt.Path
		t.Run(key, func(t *testing.T) {
			// Without a session.
			anon := e.browser(t)
			var code int
			var loc string
			if rt.Method == "GET" {
				resp, _ := anon.get(t, path(rt.Path))
				code, loc = resp.StatusCode, resp.Header.Get("Location")
			} else {
				resp := anon.post(t, path(rt.Path), nil, false)
				code = resp.StatusCode
			}
			switch {
			case rt.Access == console.Public:
				// The login form itself is public; its post needs the
				// form's token (TestLoginLogout).
				if code == http.StatusUnauthorized || code == http.StatusForbidden && rt.Method == "GET" {
					t.Errorf("public route without a session: %d", code)
				}
			case rt.Method == "GET" && rt.Path != "/console/ws":
				if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/login") {
					t.Errorf("page without a session: %d %q, want a redirect to the login", code, loc)
				}
			default:
				if code != http.StatusUnauthorized {
					t.Errorf("without a session: %d, want 401", code)
				}
			}
			if rt.Access == console.Public {
				return
			}
			for role, a := range roles {
				b := e.session(t, a)
				var code int
				if rt.Method == "GET" {
					resp, _ := b.get(t, path(rt.Path))
					code = resp.StatusCode
				} else {
					resp := b.post(t, path(rt.Path), nil, true)
					code = resp.StatusCode
				}
				allowed := rt.Access == console.AnyAgent || (rt.Access == console.SupervisorOnly && role != handoff.RoleAgent) ||
					(rt.Access == console.AdminOnly && role == handoff.RoleAdmin)
				switch {
				case allowed && code == http.StatusUnauthorized:
					t.Errorf("%s: %d, want the route served", role, code)
				case allowed && code == http.StatusForbidden && rt.Access != console.AnyAgent:
					t.Errorf("%s: %d, want the route served", role, code)
				case !allowed && code != http.StatusForbidden:
					t.Errorf("%s: %d, want 403", role, code)
				}
				if rt.Method == "POST" {
					// The same request without the CSRF token.
					b := e.session(t, a)
					if resp := b.post(t, path(rt.Path), nil, false); resp.StatusCode != http.StatusForbidden {
						t.Errorf("%s without CSRF token: %d, want 403", role, resp.StatusCode)
					}
				}
			}
		})
	}
}

func TestLoginLogout(t *testing.T) {
	e := newEnv(t, console.Config{LoginsPerEmail: 5})
	ana := e.agent(t, e.tenant, "Ana Agent", handoff.RoleAgent)

	b := e.browser(t)
	if resp := b.login(t, "ana@example.com", "wrong password!"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	if resp := b.login(t, "nobody@example.com", password); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unknown email: %d", resp.StatusCode)
	}
	resp := b.login(t, "Ana@Example.com", password)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/" {
		t.Fatalf("login: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "conversa_session" {
			ck = c
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/, not Secure over http", ck)
	}
	r, page := b.get(t, "/console/")
	if r.StatusCode != 200 || !strings.Contains(page, "Ana Agent") {
		t.Fatalf("inbox after login: %d", r.StatusCode)
	}
	for _, h := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(r.Header.Get("Content-Security-Policy"), h) {
			t.Errorf("CSP %q lacks %s", r.Header.Get("Content-Security-Policy"), h)
		}
	}
	if strings.Contains(page, "<script>") || strings.Contains(page, " style=") || strings.Contains(page, " onclick=") {
		t.Errorf("inline script or style in a page")
	}
	// A login form posted without its form token is refused.
	if resp := b.post(t, "/console/login", url.Values{"email": {"ana@example.com"}, "password": {password}}, false); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("login without its form token: %d", resp.StatusCode)
	}
	// Logout ends the session on the server, not only the cookie.
	jarCookies := b.c.Jar.Cookies(mustURL(t, e.srv.URL))
	if resp := b.post(t, "/console/logout", nil, true); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	replay := e.browser(t)
	replay.c.Jar.SetCookies(mustURL(t, e.srv.URL), jarCookies)
	if r, _ := replay.get(t, "/console/"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("the session's cookie after logout: %d, want a redirect to the login", r.StatusCode)
	}

	// The same email in two tenants chooses the workspace.
	twin := e.agent(t, e.other, "Ana Twin", handoff.RoleAgent)
	c := e.browser(t)
	resp = c.login(t, "ana@example.com", password)
	_, body := c.get(t, "/console/login")
	_ = body
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("two workspaces: %d, want the choice", resp.StatusCode)
	}
	resp = c.login(t, "ana@example.com", password, "tenant", strconv.FormatInt(e.other.ID, 10))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login to the chosen workspace: %d", resp.StatusCode)
	}
	if _, page := c.get(t, "/console/"); !strings.Contains(page, twin.Name) {
		t.Fatalf("logged into the wrong workspace")
	}
	_ = ana

	// Per email: the sixth attempt within the window is refused, even
	// with the right password.
	d := e.browser(t)
	for i := 0; i < 4; i++ {
		d.login(t, "ana@example.com", "wrong password!")
	}
	if resp := d.login(t, "ana@example.com", password, "tenant", strconv.FormatInt(e.tenant.ID, 10)); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("login over the limit: %d, want 429", resp.StatusCode)
	}
}

func TestLoginLimitPerIP(t *testing.T) {
	e := newEnv(t, console.Config{LoginsPerIP: 3})
	e.agent(t, e.tenant, "Ana Agent", handoff.RoleAgent)
	b := e.browser(t)
	for i := 0; i < 3; i++ {
		b.login(t, "other"+strconv.Itoa(i)+"@example.com", "wrong password!")
	}
	if resp := b.login(t, "ana@example.com", password); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("fourth login from one address: %d, want 429", resp.StatusCode)
	}
}

func TestSecureCookie(t *testing.T) {
	e := newEnv(t, console.Config{PublicURL: "https://console.example.com"})
	e.agent(t, e.tenant, "Ana Agent", handoff.RoleAgent)
	b := e.browser(t)
	resp := b.login(t, "ana@example.com", password)
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-conversa_session" {
			ck = c
		}
	}
	if ck == nil || !ck.Secure || ck.Path != "/" || ck.Domain != "" {
		t.Fatalf("cookie over https: %+v, want __Host- prefixed, Secure, Path=/", resp.Cookies())
	}
}

func TestCrossOriginPostRefused(t *testing.T) {
	e := newEnv(t, console.Config{})
	a := e.agent(t, e.tenant, "Ana Agent", handoff.RoleAgent)
	b := e.session(t, a)
	form := url.Values{"status": {"available"}, "csrf": {b.csrf}}
	req, _ := http.NewRequest("POST", e.srv.URL+"/console/status", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if resp, _ := b.do(t, req); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin post: %d", resp.StatusCode)
	}
	got, err := e.store.Agent(t.Context(), a.TenantID, a.ID)
	must(t, err)
	if got.Status != handoff.StatusOffline {
		t.Fatalf("status changed to %s by a cross-origin post", got.Status)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	must(t, err)
	return u
}

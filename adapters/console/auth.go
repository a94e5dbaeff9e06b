package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"conversa/conversation"
	"conversa/handoff"
)

// request is what a handler knows of the request: the session and agent
// (nil on public routes without one), and the language of the page.
type request struct {
	session *handoff.Session
	agent   *handoff.Agent
	token   string
	lang    string
}

func (c *Console) cookieName() string {
	if c.secure {
		return "__Host-conversa_session"
	}
	return "conversa_session"
}

// guard runs a route behind its rule: a session for everything but public
// routes (a page redirects to the login, anything else gets 401), the
// agent's role, and the CSRF token and same origin on every request that
// changes something.
func (c *Console) guard(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rq := &request{}
		if ck, err := r.Cookie(c.cookieName()); err == nil && ck.Value != "" {
			if s, err := c.acct.session(r.Context(), ck.Value); err == nil {
				if a, err := c.deps.Routing.Agent(r.Context(), s.TenantID, s.AgentID); err == nil {
					rq.session, rq.agent, rq.token = &s, &a, ck.Value
				}
			} else if !conversation.IsNotFound(err) {
				c.fail(w, r, rq, err)
				return
			}
		}
		rq.lang = c.language(r)
		if rt.Access != Public {
			if rq.agent == nil {
				if r.Method == http.MethodGet && rt.Path != "/console/ws" {
					http.Redirect(w, r, "/console/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
					return
				}
				c.fail(w, r, rq, conversation.Errorf(conversation.EUNAUTHORIZED, "log in first"))
				return
			}
			if !rt.Access.allows(rq.agent.Role) {
				c.log.Warn("console access denied", "tenant", rq.agent.TenantID, "agent", rq.agent.ID, "role", rq.agent.Role, "route", rt.Path)
				c.fail(w, r, rq, conversation.Errorf(conversation.EFORBIDDEN, "your role may not do this"))
				return
			}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !sameOrigin(r) {
				c.log.Warn("console request from another origin", "origin", r.Header.Get("Origin"), "route", rt.Path)
				c.fail(w, r, rq, conversation.Errorf(conversation.EFORBIDDEN, "cross-site request refused"))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if rq.session != nil && rt.Path != "/console/login" && !c.csrfOK(r, rq.session) {
				c.log.Warn("console request without a valid CSRF token", "tenant", rq.session.TenantID, "agent", rq.session.AgentID, "route", rt.Path)
				c.fail(w, r, rq, conversation.Errorf(conversation.EFORBIDDEN, "the form expired; reload the page"))
				return
			}
		}
		if err := rt.handle(w, r, rq); err != nil {
			c.fail(w, r, rq, err)
		}
	})
}

// csrfOK checks the request's token, from the X-CSRF-Token header or the
// csrf form field, against the session's.
func (c *Console) csrfOK(r *http.Request, s *handoff.Session) bool {
	tok := r.Header.Get("X-CSRF-Token")
	if tok == "" {
		tok = r.PostFormValue("csrf")
	}
	return tok != "" && s.CSRF != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.CSRF)) == 1
}

// sameOrigin reports whether a browser's request comes from the console's
// own pages: the Origin header, when sent, names the Host.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return r.Header.Get("Sec-Fetch-Site") == "" || r.Header.Get("Sec-Fetch-Site") == "same-origin"
	}
	u, err := url.Parse(o)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// fail answers an error: a page for a browser's navigation, JSON for a
// script's fetch. Internal errors are logged and shown as a generic one.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, rq *request, err error) {
	code := conversation.ErrorCode(err)
	status := http.StatusInternalServerError
	switch code {
	case conversation.EINVALID:
		status = http.StatusBadRequest
	case conversation.ENOTFOUND:
		status = http.StatusNotFound
	case conversation.ECONFLICT:
		status = http.StatusConflict
	case conversation.EFORBIDDEN:
		status = http.StatusForbidden
	case conversation.EUNAUTHORIZED:
		status = http.StatusUnauthorized
	case conversation.ETOOLARGE:
		status = http.StatusRequestEntityTooLarge
	case conversation.ERATELIMIT:
		status = http.StatusTooManyRequests
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		status, code = http.StatusRequestEntityTooLarge, conversation.ETOOLARGE
	}
	msg := conversation.ErrorMessage(err)
	if status == http.StatusInternalServerError {
		c.log.Error("console request failed", "route", r.Pattern, "err", err)
		msg = tr(rq.lang, "error.internal")
	} else {
		c.log.Info("console request refused", "route", r.Pattern, "status", status, "err", err)
	}
	if wantsJSON(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
		return
	}
	c.render(w, rq, status, "error", map[string]any{"Status": status, "Message": msg})
}

func wantsJSON(r *http.Request) bool {
	return r.Header.Get("X-CSRF-Token") != "" || strings.Contains(r.Header.Get("Accept"), "application/json") || r.URL.Path == "/console/ws"
}

// done answers a successful action: JSON for a fetch, else a redirect.
func done(w http.ResponseWriter, r *http.Request, to string) error {
	if wantsJSON(r) {
		w.Header().Set("Content-Type", "application/json")
		return json.NewEncoder(w).Encode(map[string]string{"redirect": to})
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

const loginCookie = "conversa_login"

// loginPage shows the login form, with a token for the form kept in a
// cookie (a login form has no session to hold one).
func (c *Console) loginPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	if rq.agent != nil {
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
		return nil
	}
	c.showLogin(w, r, rq, http.StatusOK, "", nil)
	return nil
}

func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, rq *request, status int, problem string, workspaces []workspace) {
	tok := randomToken()
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: tok, Path: "/console/login", HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	c.render(w, rq, status, "login", map[string]any{
		"LoginToken": tok, "Email": r.PostFormValue("email"), "Next": safeNext(r.FormValue("next")),
		"Problem": problem, "Workspaces": workspaces,
	})
}

type workspace struct {
	TenantID int64
	Name     string
}

// login checks the email and password, within the rate limits per client
// address and per email, and starts a session. An email with agents in
// several tenants chooses the workspace.
func (c *Console) login(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := r.ParseForm(); err != nil {
		return conversation.Errorf(conversation.EINVALID, "bad form")
	}
	ck, err := r.Cookie(loginCookie)
	if err != nil || ck.Value == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.PostFormValue("login_token"))) != 1 {
		c.log.Warn("console login without its form token", "ip", clientIP(r))
		c.showLogin(w, r, rq, http.StatusForbidden, tr(rq.lang, "login.expired"), nil)
		return nil
	}
	email := strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))
	password := r.PostFormValue("password")
	if email == "" || password == "" || len(email) > 320 || len(password) > 1024 {
		c.showLogin(w, r, rq, http.StatusBadRequest, tr(rq.lang, "login.missing"), nil)
		return nil
	}
	for _, key := range []struct {
		k     string
		limit int
	}{{"console:login:ip:" + clientIP(r), c.cfg.LoginsPerIP}, {"console:login:email:" + email, c.cfg.LoginsPerEmail}} {
		ok, _, err := c.deps.Limiter.Allow(r.Context(), key.k, key.limit, 15*time.Minute)
		if err != nil {
			return err
		}
		if !ok {
			c.log.Warn("console login rate-limited", "ip", clientIP(r), "key", key.k)
			c.showLogin(w, r, rq, http.StatusTooManyRequests, tr(rq.lang, "login.limited"), nil)
			return nil
		}
	}
	agents, err := c.acct.logins(r.Context(), email, password)
	if err != nil {
		return err
	}
	if len(agents) == 0 {
		c.log.Info("console login failed", "ip", clientIP(r))
		c.showLogin(w, r, rq, http.StatusUnauthorized, tr(rq.lang, "login.wrong"), nil)
		return nil
	}
	chosen := agents[0]
	if len(agents) > 1 {
		want, _ := strconv.ParseInt(r.PostFormValue("tenant"), 10, 64)
		found := false
		var spaces []workspace
		for _, a := range agents {
			t, err := c.deps.Store.Tenant(r.Context(), a.TenantID)
			if err != nil {
				return err
			}
			spaces = append(spaces, workspace{TenantID: t.ID, Name: t.Name})
			if a.TenantID == want {
				chosen, found = a, true
			}
		}
		if !found {
			c.showLogin(w, r, rq, http.StatusOK, tr(rq.lang, "login.choose"), spaces)
			return nil
		}
	}
	if rq.token != "" {
		c.acct.end(r.Context(), rq.token)
	}
	token, _, err := c.acct.start(r.Context(), chosen.TenantID, chosen.ID, c.cfg.SessionTTL)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: c.cookieName(), Value: token, Path: "/", HttpOnly: true, Secure: c.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(c.cfg.SessionTTL / time.Second)})
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: "/console/login", MaxAge: -1})
	c.log.Info("console login", "tenant", chosen.TenantID, "agent", chosen.ID)
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
	return nil
}

// safeNext keeps a redirect after login inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/console/"
	}
	return next
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := c.acct.end(r.Context(), rq.token); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: c.cookieName(), Value: "", Path: "/", HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode, MaxAge: -1})
	return done(w, r, "/console/login")
}

// setLanguage keeps the agent's choice of language in a cookie.
func (c *Console) setLanguage(w http.ResponseWriter, r *http.Request, rq *request) error {
	lang := r.PostFormValue("lang")
	if _, ok := catalogs[lang]; !ok {
		return conversation.FieldError("lang", "must be es or en")
	}
	http.SetCookie(w, &http.Cookie{Name: "conversa_lang", Value: lang, Path: "/console/", HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode, MaxAge: 365 * 24 * 3600})
	return done(w, r, safeNext(r.PostFormValue("next")))
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

package console

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"conversa/conversation"
	"conversa/handoff"
)

func (c *Console) adminAgents(w http.ResponseWriter, r *http.Request, rq *request) error {
	agents, err := c.deps.Routing.ListAgents(r.Context(), rq.agent.TenantID)
	if err != nil {
		return err
	}
	teams, err := c.deps.Routing.ListTeams(r.Context(), rq.agent.TenantID)
	if err != nil {
		return err
	}
	c.render(w, rq, http.StatusOK, "agents", map[string]any{"Agents": agents, "Teams": teams,
		"Roles": []handoff.Role{handoff.RoleAgent, handoff.RoleSupervisor, handoff.RoleAdmin}})
	return nil
}

// agentForm reads the agent fields of an admin form into a.
func agentForm(r *http.Request, a *handoff.Agent) error {
	a.Name = r.PostFormValue("name")
	a.Email = r.PostFormValue("email")
	a.Role = handoff.Role(r.PostFormValue("role"))
	a.Skills = nil
	for s := range strings.SplitSeq(r.PostFormValue("skills"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			a.Skills = append(a.Skills, s)
		}
	}
	capacity, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("capacity")))
	if err != nil {
		return conversation.FieldError("capacity", "must be a number")
	}
	a.Capacity = capacity
	a.Teams = nil
	for _, v := range r.PostForm["team"] {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return conversation.FieldError("team", "must be a number")
		}
		a.Teams = append(a.Teams, id)
	}
	return nil
}

// createAgent creates an agent with a password.
func (c *Console) createAgent(w http.ResponseWriter, r *http.Request, rq *request) error {
	a := handoff.Agent{TenantID: rq.agent.TenantID}
	if err := agentForm(r, &a); err != nil {
		return err
	}
	password := r.PostFormValue("password")
	if err := handoff.CheckPasswordRule(password); err != nil {
		return err
	}
	a, err := c.deps.Router.CreateAgent(r.Context(), a)
	if err != nil {
		return err
	}
	if err := c.acct.setPassword(r.Context(), a.TenantID, a.ID, password, ""); err != nil {
		return err
	}
	c.log.Info("agent created", "tenant", a.TenantID, "agent", a.ID, "by", rq.agent.ID)
	return done(w, r, "/console/admin/agents")
}

// updateAgent changes an agent's profile, and password when one is given.
func (c *Console) updateAgent(w http.ResponseWriter, r *http.Request, rq *request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	a, err := c.deps.Routing.Agent(r.Context(), rq.agent.TenantID, id)
	if err != nil {
		return err
	}
	if err := agentForm(r, &a); err != nil {
		return err
	}
	p := r.PostFormValue("password")
	if p != "" {
		if err := handoff.CheckPasswordRule(p); err != nil {
			return err
		}
	}
	if a.ID == rq.agent.ID && a.Role != handoff.RoleAdmin {
		return conversation.FieldError("role", "you cannot take away your own admin role")
	}
	if _, err := c.deps.Router.UpdateAgent(r.Context(), a); err != nil {
		return err
	}
	if p != "" {
		if err := c.acct.setPassword(r.Context(), a.TenantID, a.ID, p, rq.token); err != nil {
			return err
		}
	}
	return done(w, r, "/console/admin/agents")
}

func (c *Console) createTeam(w http.ResponseWriter, r *http.Request, rq *request) error {
	if _, err := c.deps.Router.CreateTeam(r.Context(), handoff.Team{TenantID: rq.agent.TenantID, Name: r.PostFormValue("name")}); err != nil {
		return err
	}
	return done(w, r, "/console/admin/agents")
}

func (c *Console) adminQueues(w http.ResponseWriter, r *http.Request, rq *request) error {
	queues, err := c.deps.Routing.ListQueues(r.Context(), rq.agent.TenantID)
	if err != nil {
		return err
	}
	teams, err := c.deps.Routing.ListTeams(r.Context(), rq.agent.TenantID)
	if err != nil {
		return err
	}
	c.render(w, rq, http.StatusOK, "queues", map[string]any{"Queues": queues, "Teams": teams,
		"Strategies": []handoff.Strategy{handoff.StrategyLongestIdle, handoff.StrategyRoundRobin, handoff.StrategyManual}})
	return nil
}

func (c *Console) createQueue(w http.ResponseWriter, r *http.Request, rq *request) error {
	q := handoff.Queue{TenantID: rq.agent.TenantID, Name: r.PostFormValue("name"), Strategy: handoff.Strategy(r.PostFormValue("strategy"))}
	for s := range strings.SplitSeq(r.PostFormValue("skills"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			q.Skills = append(q.Skills, s)
		}
	}
	var err error
	if q.TeamID, err = formID(r, "team"); err != nil {
		return err
	}
	if v := strings.TrimSpace(r.PostFormValue("priority")); v != "" {
		if q.Priority, err = strconv.Atoi(v); err != nil {
			return conversation.FieldError("priority", "must be a number")
		}
	}
	if v := strings.TrimSpace(r.PostFormValue("timeout")); v != "" {
		secs, err := strconv.Atoi(v)
		if err != nil || secs < 0 {
			return conversation.FieldError("timeout", "must be a number of seconds")
		}
		q.AcceptTimeout = time.Duration(secs) * time.Second
	}
	if _, err := c.deps.Router.CreateQueue(r.Context(), q); err != nil {
		return err
	}
	return done(w, r, "/console/admin/queues")
}

func (c *Console) adminCanned(w http.ResponseWriter, r *http.Request, rq *request) error {
	list, err := c.deps.Console.ListCanned(r.Context(), rq.agent.TenantID, "", 0)
	if err != nil {
		return err
	}
	c.render(w, rq, http.StatusOK, "canned", map[string]any{"Canned": list, "Variables": handoff.CannedVariables})
	return nil
}

func (c *Console) createCanned(w http.ResponseWriter, r *http.Request, rq *request) error {
	cr := handoff.Canned{TenantID: rq.agent.TenantID, Code: r.PostFormValue("code"), Title: r.PostFormValue("title"), Body: r.PostFormValue("body")}
	if err := cr.Validate(); err != nil {
		return err
	}
	if _, err := c.deps.Console.CreateCanned(r.Context(), cr); err != nil {
		return err
	}
	return done(w, r, "/console/admin/canned")
}

func (c *Console) deleteCanned(w http.ResponseWriter, r *http.Request, rq *request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := c.deps.Console.DeleteCanned(r.Context(), rq.agent.TenantID, id); err != nil {
		return err
	}
	return done(w, r, "/console/admin/canned")
}

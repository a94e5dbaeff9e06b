package console

import (
	"net/http"
	"strconv"
	"strings"
)

// catalogs are the console's words in each language it speaks. A key
// missing from a catalog falls back to English, then to the key.
var catalogs = map[string]map[string]string{
	"en": {
		"app":                 "Conversa console",
		"login.title":         "Log in",
		"login.email":         "Email",
		"login.password":      "Password",
		"login.submit":        "Log in",
		"login.workspace":     "Workspace",
		"login.choose":        "Your email belongs to several workspaces: choose one and enter your password again.",
		"login.wrong":         "Wrong email or password.",
		"login.missing":       "Enter your email and password.",
		"login.limited":       "Too many attempts. Wait a few minutes and try again.",
		"login.expired":       "The form expired. Please try again.",
		"logout":              "Log out",
		"nav.inbox":           "Inbox",
		"nav.supervisor":      "Supervisor",
		"nav.agents":          "Agents",
		"nav.queues":          "Queues",
		"status":              "My status",
		"status.available":    "Available",
		"status.busy":         "Busy",
		"status.away":         "Away",
		"status.offline":      "Offline",
		"status.save":         "Set",
		"inbox.offers":        "Offered to you",
		"inbox.mine":          "My conversations",
		"inbox.queue":         "Waiting in the queue",
		"inbox.none":          "Nothing here.",
		"inbox.accept":        "Accept",
		"inbox.pick":          "Pick",
		"inbox.open":          "Open",
		"inbox.expires":       "expires in",
		"conv.history":        "Messages",
		"conv.reply":          "Reply",
		"conv.reply.hint":     "Write a reply… (type / for canned responses)",
		"conv.send":           "Send",
		"conv.typing":         "The customer is typing…",
		"conv.transfer":       "Transfer",
		"conv.transfer.agent": "To an agent",
		"conv.transfer.queue": "To a queue",
		"conv.transfer.note":  "Note for whoever takes it",
		"conv.close":          "Close",
		"conv.disposition":    "Disposition",
		"conv.returnbot":      "Return to the bot",
		"conv.state":          "State",
		"conv.channel":        "Channel",
		"conv.notmine":        "This conversation is not assigned to you: you can read it but not answer.",
		"conv.reason":         "Why the bot handed it over",
		"conv.notes":          "Private notes",
		"conv.notes.hint":     "A note for colleagues; the customer never sees it",
		"conv.notes.add":      "Add note",
		"nav.canned":          "Canned responses",
		"admin.code":          "Shortcut",
		"admin.title":         "Title",
		"admin.body":          "Text",
		"admin.variables":     "Variables",
		"admin.delete":        "Delete",
		"conv.note":           "Transfer note",
		"panel.contact":       "Contact",
		"panel.attributes":    "Attributes",
		"panel.identities":    "Identities",
		"panel.conversations": "Conversations",
		"panel.messages":      "messages",
		"panel.cases":         "Cases (PQR)",
		"author.contact":      "Customer",
		"author.bot":          "Bot",
		"author.agent":        "Agent",
		"author.system":       "System",
		"sup.queues":          "Queues",
		"sup.agents":          "Agents",
		"sup.active":          "Conversations in progress by channel",
		"sup.waiting":         "Waiting",
		"sup.longest":         "Longest wait",
		"sup.offered":         "Offered",
		"sup.assigned":        "Assigned",
		"sup.available":       "Available agents",
		"sup.load":            "Load",
		"sup.reassign":        "Reassign",
		"sup.conversation":    "Conversation",
		"sup.agent":           "Agent",
		"admin.agents":        "Agents",
		"admin.new":           "New agent",
		"admin.name":          "Name",
		"admin.role":          "Role",
		"admin.skills":        "Skills (comma-separated)",
		"admin.capacity":      "Capacity",
		"admin.teams":         "Teams",
		"admin.password":      "Password (leave empty to keep)",
		"admin.save":          "Save",
		"admin.create":        "Create",
		"admin.newteam":       "New team",
		"admin.queues":        "Queues",
		"admin.newqueue":      "New queue",
		"admin.strategy":      "Strategy",
		"admin.team":          "Team",
		"admin.priority":      "Priority",
		"admin.timeout":       "Seconds to accept",
		"error.title":         "Something went wrong",
		"error.internal":      "Internal error; it was logged.",
		"error.back":          "Back to the inbox",
		"language":            "Language",
		"live.offline":        "Reconnecting…",
	},
	"es": {
		"app":                 "Consola de Conversa",
		"login.title":         "Iniciar sesión",
		"login.email":         "Correo electrónico",
		"login.password":      "Contraseña",
		"login.submit":        "Entrar",
		"login.workspace":     "Espacio de trabajo",
		"login.choose":        "Tu correo pertenece a varios espacios de trabajo: elige uno y escribe de nuevo tu contraseña.",
		"login.wrong":         "Correo o contraseña incorrectos.",
		"login.missing":       "Escribe tu correo y tu contraseña.",
		"login.limited":       "Demasiados intentos. Espera unos minutos y vuelve a intentarlo.",
		"login.expired":       "El formulario caducó. Inténtalo de nuevo.",
		"logout":              "Salir",
		"nav.inbox":           "Bandeja",
		"nav.supervisor":      "Supervisión",
		"nav.agents":          "Asesores",
		"nav.queues":          "Colas",
		"status":              "Mi estado",
		"status.available":    "Disponible",
		"status.busy":         "Ocupado",
		"status.away":         "Ausente",
		"status.offline":      "Desconectado",
		"status.save":         "Cambiar",
		"inbox.offers":        "Ofrecidas a ti",
		"inbox.mine":          "Mis conversaciones",
		"inbox.queue":         "En espera en la cola",
		"inbox.none":          "Nada por aquí.",
		"inbox.accept":        "Aceptar",
		"inbox.pick":          "Tomar",
		"inbox.open":          "Abrir",
		"inbox.expires":       "vence en",
		"conv.history":        "Mensajes",
		"conv.reply":          "Responder",
		"conv.reply.hint":     "Escribe una respuesta… (escribe / para respuestas rápidas)",
		"conv.send":           "Enviar",
		"conv.typing":         "El cliente está escribiendo…",
		"conv.transfer":       "Transferir",
		"conv.transfer.agent": "A un asesor",
		"conv.transfer.queue": "A una cola",
		"conv.transfer.note":  "Nota para quien la reciba",
		"conv.close":          "Cerrar",
		"conv.disposition":    "Tipificación",
		"conv.returnbot":      "Devolver al bot",
		"conv.state":          "Estado",
		"conv.channel":        "Canal",
		"conv.notmine":        "Esta conversación no está asignada a ti: puedes leerla pero no responder.",
		"conv.reason":         "Por qué el bot la transfirió",
		"conv.notes":          "Notas privadas",
		"conv.notes.hint":     "Una nota para colegas; el cliente nunca la ve",
		"conv.notes.add":      "Agregar nota",
		"nav.canned":          "Respuestas rápidas",
		"admin.code":          "Atajo",
		"admin.title":         "Título",
		"admin.body":          "Texto",
		"admin.variables":     "Variables",
		"admin.delete":        "Eliminar",
		"conv.note":           "Nota de transferencia",
		"panel.contact":       "Contacto",
		"panel.attributes":    "Atributos",
		"panel.identities":    "Identidades",
		"panel.conversations": "Conversaciones",
		"panel.messages":      "mensajes",
		"panel.cases":         "Casos (PQR)",
		"author.contact":      "Cliente",
		"author.bot":          "Bot",
		"author.agent":        "Asesor",
		"author.system":       "Sistema",
		"sup.queues":          "Colas",
		"sup.agents":          "Asesores",
		"sup.active":          "Conversaciones en curso por canal",
		"sup.waiting":         "En espera",
		"sup.longest":         "Mayor espera",
		"sup.offered":         "Ofrecidas",
		"sup.assigned":        "Asignadas",
		"sup.available":       "Asesores disponibles",
		"sup.load":            "Carga",
		"sup.reassign":        "Reasignar",
		"sup.conversation":    "Conversación",
		"sup.agent":           "Asesor",
		"admin.agents":        "Asesores",
		"admin.new":           "Nuevo asesor",
		"admin.name":          "Nombre",
		"admin.role":          "Rol",
		"admin.skills":        "Habilidades (separadas por comas)",
		"admin.capacity":      "Capacidad",
		"admin.teams":         "Equipos",
		"admin.password":      "Contraseña (vacía para no cambiarla)",
		"admin.save":          "Guardar",
		"admin.create":        "Crear",
		"admin.newteam":       "Nuevo equipo",
		"admin.queues":        "Colas",
		"admin.newqueue":      "Nueva cola",
		"admin.strategy":      "Estrategia",
		"admin.team":          "Equipo",
		"admin.priority":      "Prioridad",
		"admin.timeout":       "Segundos para aceptar",
		"error.title":         "Algo salió mal",
		"error.internal":      "Error interno; quedó registrado.",
		"error.back":          "Volver a la bandeja",
		"language":            "Idioma",
		"live.offline":        "Reconectando…",
	},
}

// tr returns the text of key in lang.
func tr(lang, key string) string {
	if s, ok := catalogs[lang][key]; ok {
		return s
	}
	if s, ok := catalogs["en"][key]; ok {
		return s
	}
	return key
}

// language is the agent's choice (a cookie), else the browser's
// Accept-Language among es and en, else Spanish.
func (c *Console) language(r *http.Request) string {
	if ck, err := r.Cookie("conversa_lang"); err == nil {
		if _, ok := catalogs[ck.Value]; ok {
			return ck.Value
		}
	}
	return acceptLanguage(r.Header.Get("Accept-Language"))
}

// acceptLanguage picks es or en from an Accept-Language header, by the
// order and weights the browser gives; Spanish when neither appears.
func acceptLanguage(h string) string {
	best, bestQ := "es", -1.0
	for i, part := range strings.Split(h, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		base, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if _, ok := catalogs[base]; !ok {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		q -= float64(i) * 1e-6 // earlier wins a tie
		if q > bestQ && q > 0 {
			best, bestQ = base, q
		}
	}
	return best
}

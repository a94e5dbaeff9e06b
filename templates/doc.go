// Package templates holds a tenant's message templates: one definition per
// purpose (case_resolved, appointment_reminder, survey), with variants per
// channel and language, rendered with text/template for text channels and
// html/template for the HTML part of an email.
//
// A definition is a YAML file (docs/templates.md describes the format).
// Parse reads it strictly and checks everything that can be checked before
// a message is ever sent: every variant's template parses, uses only the
// functions of the package's small FuncMap and only the variables the
// definition declares, renders with the declared samples (and with only the
// required ones), and fits its channel's length rules (SMS segments counted
// as GSM-7 or UCS-2, Telegram 4096, WhatsApp 1600, web chat 4096, voice
// 1000). A problem is reported with the file, line and column and the field
// at fault.
//
// Template.Render picks a variant for a channel and a language (es-CO, then
// es, then another region of es, then the tenant's default, each first on
// the channel and then on the "default" channel) and renders it with a
// contact's data. Data is always escaped in HTML; in text it is stripped of
// control characters. A WhatsApp variant may name its approved content
// template (ContentSid) and the order of its variables.
//
// Definitions are kept per tenant and purpose with numbered versions
// through the Store port, which storage/sqlite and storage/postgres
// implement, proven by templatestest.TestStore. Service puts the two
// together: it validates before saving and keeps compiled templates.
package templates

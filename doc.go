// Package conversa is the root of Conversa, an omnichannel messaging
// gateway and chatbot runtime in one Go binary. The code lives in layers,
// and each layer imports only the ones below it (see layers_test.go and
// docs/architecture.md):
//
//	L4  cmd/conversa, bench/...                   wiring; the only place concrete types meet
//	L3  channels/<name>, adapters/<name>, storage/<name>
//	L2  channels, bot, handoff, notify, reports,  siblings never import each other
//	    billing
//	L1  templates
//	L0  conversation                              standard library only
package conversa

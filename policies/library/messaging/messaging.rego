# Starter library: email and messaging. Recipients outside the allowed domains need a human,
# mass mailings and attachments of secrets are denied.
#
# INERT until a project uses it (see policies/library/README.md).
package kitelogik.library.messaging

import rego.v1

defaults := {
	"message_tools": ["send_email", "send_message", "post_message", "send_sms"],
	"recipient_args": ["to", "cc", "bcc", "recipients"],
	"internal_domains": [],
	"max_recipients": 10,
}

settings := object.union(defaults, s) if {
	s := object.get(data.kitelogik.project.library_settings, "messaging", null)
	is_object(s)
} else := defaults

messaging if {
	input.event_type == "tool_call"
	input.action in settings.message_tools
}

# Recipients from string or list arguments; anything else is reported as malformed.
recipients contains ascii_lower(r) if {
	messaging
	some k in settings.recipient_args
	v := object.get(data.kitelogik.global.lib.inp, ["args", k], null)
	is_string(v)
	some r in split(v, ",")
}

recipients contains ascii_lower(r) if {
	messaging
	some k in settings.recipient_args
	v := object.get(data.kitelogik.global.lib.inp, ["args", k], null)
	is_array(v)
	some r in v
	is_string(r)
}

# lower() differs between the engines outside ASCII (OPA, Go: simple case mapping, "İ" -> "i";
# regorus, Rust: full mapping, "İ" -> "i̇"): only ASCII strings are lowercased, others are kept
# as they are (identically in both engines).
ascii_lower(s) := lower(s) if regex.match(`^[\x00-\x7f]*$`, s)

ascii_lower(s) := s if not regex.match(`^[\x00-\x7f]*$`, s)

external contains r if {
	some raw in recipients
	r := trim_space(raw)
	not is_internal(r)
}

is_internal(r) if {
	some d in settings.internal_domains
	endswith(r, concat("", ["@", ascii_lower(d)]))
}

deny contains {"rule": "library.messaging.too_many_recipients", "reason": sprintf("more than %v recipients in one message", [settings.max_recipients])} if {
	count(recipients) > settings.max_recipients
}

deny contains {"rule": "library.messaging.malformed_recipients", "reason": "recipients must be a string or a list of strings"} if {
	messaging
	some k in settings.recipient_args
	v := object.get(data.kitelogik.global.lib.inp, ["args", k], null)
	v != null
	not is_string(v)
	not string_list(v)
}

string_list(v) if {
	is_array(v)
	every x in v {
		is_string(x)
	}
}

requires_hitl contains {"rule": "library.messaging.external_recipient", "reason": "messages to external recipients need a human approval"} if {
	count(external) > 0
}

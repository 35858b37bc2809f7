# Starter library: data classification. Labelled data (input.data_labels, resource.classification)
# may not leave through external tools, and secrets are spotted in the arguments themselves.
#
# INERT until a project uses it (see policies/library/README.md).
package kitelogik.library.data_classification

import rego.v1

defaults := {
	"no_egress_labels": ["pii", "secret", "confidential", "restricted", "phi", "pci"],
	"external_tools": ["send_email", "http_post", "http_get", "web_search", "post_message", "send_message"],
	# RE2 patterns for secrets that must never appear in tool arguments.
	"secret_patterns": [
		`AKIA[0-9A-Z]{16}`,
		`-----BEGIN [A-Z ]*PRIVATE KEY-----`,
		`(?i)\bxox[abpr]-[0-9a-z-]{10,}`,
		`\bghp_[0-9A-Za-z]{36}\b`,
		`\bsk-[0-9A-Za-z_-]{20,}`,
	],
}

settings := object.union(defaults, s) if {
	s := object.get(data.kitelogik.project.library_settings, "data_classification", null)
	is_object(s)
} else := defaults

labels contains ascii_lower(l) if {
	ls := object.get(data.kitelogik.global.lib.inp, "data_labels", [])
	is_array(ls) # `some .. in` over null/a number: OPA is undefined, regorus raises
	some l in ls
	is_string(l)
}

labels contains ascii_lower(c) if {
	c := object.get(data.kitelogik.global.lib.inp, ["resource", "classification"], null)
	is_string(c)
}

# lower() differs between the engines outside ASCII (OPA, Go: simple case mapping, "İ" -> "i";
# regorus, Rust: full mapping, "İ" -> "i̇"): only ASCII strings are lowercased, others are kept
# as they are (identically in both engines).
ascii_lower(s) := lower(s) if regex.match(`^[\x00-\x7f]*$`, s)

ascii_lower(s) := s if not regex.match(`^[\x00-\x7f]*$`, s)

external if input.action in settings.external_tools

external if object.get(data.kitelogik.global.lib.inp, ["tool", "external"], false) == true

deny contains {"rule": "library.data_classification.egress", "reason": sprintf("data labelled %s may not leave through %s", [l, input.action])} if {
	external
	some l in labels
	l in settings.no_egress_labels
}

deny contains {"rule": "library.data_classification.secret_in_args", "reason": "a credential or private key appears in the tool arguments"} if {
	input.event_type in {"tool_call", "plan"}
	text := json.marshal(object.get(data.kitelogik.global.lib.inp, "args", {}))
	some p in settings.secret_patterns
	regex.match(p, text)
}

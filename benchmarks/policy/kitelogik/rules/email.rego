# Email rules (9 rules). Consulted only for tools of kind "email".
package kitelogik.bench.rules.email

import rego.v1

c := data.kitelogik.bench.lib.cfg.email

recipients := data.kitelogik.bench.lib.strings(object.get(data.kitelogik.bench.lib.args, "to", []))

external := [r | some r in recipients; not endswith(lower(r), concat("", ["@", c.internal_domain]))]

deny contains data.kitelogik.bench.lib.v("email.no_recipients", "an email needs at least one recipient") if count(recipients) == 0

deny contains data.kitelogik.bench.lib.v("email.too_many_recipients", "too many recipients") if count(recipients) > c.max_recipients

deny contains data.kitelogik.bench.lib.v("email.invalid_recipient", sprintf("'%s' is not an email address", [r])) if {
	some r in recipients
	not regex.match(`^[^@\s]+@[^@\s]+\.[a-z]{2,}$`, lower(r))
}

deny contains data.kitelogik.bench.lib.v("email.too_many_external", "too many external recipients") if count(external) > c.max_external_recipients

deny contains data.kitelogik.bench.lib.v("email.attachment_type", sprintf("attachment '%s' has a blocked type", [a])) if {
	some a in data.kitelogik.bench.lib.strings(object.get(data.kitelogik.bench.lib.args, "attachments", []))
	some s in c.blocked_attachment_suffixes
	endswith(lower(a), s)
}

deny contains data.kitelogik.bench.lib.v("email.ssn_in_body", "the body contains what looks like a social security number") if {
	body := data.kitelogik.bench.lib.str_arg("body")
	regex.match(`\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b`, body)
}

deny contains data.kitelogik.bench.lib.v("email.card_in_body", "the body contains what looks like a card number") if {
	body := data.kitelogik.bench.lib.str_arg("body")
	regex.match(`\b[0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{4}\b`, body)
}

deny contains data.kitelogik.bench.lib.v("email.confidential_external", "confidential data may not be emailed outside") if {
	count(external) > 0
	some l in data.kitelogik.bench.lib.labels
	l in {"confidential", "restricted"}
}

requires_hitl contains data.kitelogik.bench.lib.v("email.external_needs_approval", "email to external recipients needs a human") if count(external) > 0

# Starter library: finance (refunds, transfers, payments).
#
# INERT until a project uses it: nothing in kitelogik.main reads kitelogik.library.*. A project
# opts in from its own module (package kitelogik.project):
#
#     import data.kitelogik.library.finance
#     deny contains d if some d in finance.deny
#     requires_hitl contains d if some d in finance.requires_hitl
#
# or from YAML with `library: {finance: {max_amount: 2000}}`. Settings override the defaults
# below through data.kitelogik.project.library_settings.finance.
package kitelogik.library.finance

import rego.v1

defaults := {
	"payment_tools": ["approve_refund", "issue_refund", "transfer_funds", "create_payment"],
	"max_amount": 10000,
	"review_above": 1000,
	"currencies": ["EUR", "USD", "GBP"],
}

settings := object.union(defaults, s) if {
	s := object.get(data.kitelogik.project.library_settings, "finance", null)
	is_object(s)
} else := defaults

payment if {
	input.event_type == "tool_call"
	input.action in settings.payment_tools
}

amount := object.get(data.kitelogik.global.lib.inp, ["args", "amount"], null)

# A payment amount must be a positive number: "50", null, true or a negative number never pass.
deny contains {"rule": "library.finance.bad_amount", "reason": "payment amount must be a positive number"} if {
	payment
	not positive(amount)
}

deny contains {"rule": "library.finance.over_limit", "reason": sprintf("payment amount is above the limit of %v", [settings.max_amount])} if {
	payment
	positive(amount)
	amount > settings.max_amount
}

# A currency, when given, must be one of the allowed ones.
deny contains {"rule": "library.finance.currency", "reason": "payment currency is not allowed"} if {
	payment
	c := object.get(data.kitelogik.global.lib.inp, ["args", "currency"], null)
	c != null
	not c in settings.currencies
}

requires_hitl contains {"rule": "library.finance.review", "reason": sprintf("payments above %v are reviewed by a human", [settings.review_above])} if {
	payment
	positive(amount)
	amount > settings.review_above
}

positive(x) if {
	is_number(x)
	x > 0
}

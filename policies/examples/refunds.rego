# Example project tier: refunds for a support agent.
#
# INERT: this package is kitelogik.examples.refunds, which kitelogik.main never reads. To use it,
# copy the file into your own policy directory (e.g. ./policies/) and change the package line to
#
#     package kitelogik.project
#
# The project tier is loaded on top of the shipped global tier. It can add denies and escalations,
# allow things the global tier does not allow on its own (e.g. a security_critical tool), register
# its own tools, confine paths and raise the risk tier. It can never undo a global deny.
package kitelogik.examples.refunds

import rego.v1

# Register the application's own tools (names the shipped registry does not define).
tools := {
	"lookup_customer": {"tier": "informational", "scope": "read_customer", "external": false},
	"issue_refund": {"tier": "transactional_high", "scope": "refunds:write", "external": false},
}

# Inputs may carry null or missing fields: read them defensively (a builtin type error would fail
# the whole evaluation, which the gate turns into a deny, but a clear reason is better).
args := a if {
	a := input.args
	is_object(a)
} else := {}

ctx := c if {
	c := input.context
	is_object(c)
} else := {}

# Refunds above 500 are never done by an agent.
deny contains {"rule": "project.refunds.limit", "reason": "refunds above 500 need a finance ticket"} if {
	input.event_type == "tool_call"
	input.action == "issue_refund"
	amount := object.get(args, "amount", 0)
	is_number(amount)
	amount > 500
}

# A refund argument that is not a positive number is refused outright.
deny contains {"rule": "project.refunds.bad_amount", "reason": "refund amount must be a positive number"} if {
	input.event_type == "tool_call"
	input.action == "issue_refund"
	not positive(object.get(args, "amount", null))
}

positive(x) if {
	is_number(x)
	x > 0
}

# Only support staff may look customers up.
deny contains {"rule": "project.refunds.support_only", "reason": "customer lookups are for the support role"} if {
	input.event_type == "tool_call"
	input.action == "lookup_customer"
	object.get(ctx, "user_role", null) != "support"
}

# Refunds above 100 also need a human (the tool is transactional_high anyway; this adds a reason).
requires_hitl contains {"rule": "project.refunds.review", "reason": "refunds above 100 are reviewed by a human"} if {
	input.event_type == "tool_call"
	input.action == "issue_refund"
	amount := object.get(args, "amount", 0)
	is_number(amount)
	amount > 100
}

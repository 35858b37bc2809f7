# Starter library: budgets. Per-call caps that complement the global tier's session budget
# (which compares budget.requested with budget.remaining): no single call may ask for more than a
# fixed amount, and model calls may not raise their own token limits.
#
# INERT until a project uses it (see policies/library/README.md).
package kitelogik.library.budgets

import rego.v1

defaults := {
	"max_per_request": {"tokens": 50000, "api_calls": 100, "compute_ms": 600000, "money": 50},
	"token_args": ["max_tokens", "max_output_tokens", "max_completion_tokens"],
	"max_tokens_arg": 8192,
}

settings := object.union(defaults, s) if {
	s := object.get(data.kitelogik.project.library_settings, "budgets", null)
	is_object(s)
} else := defaults

requested := r if {
	r := object.get(data.kitelogik.global.lib.inp, ["budget", "requested"], {})
	is_object(r)
} else := {}

deny contains {"rule": "library.budgets.per_request_cap", "reason": sprintf("one request may use at most %v %s", [cap, k])} if {
	some k, want in requested
	cap := settings.max_per_request[k]
	is_number(want)
	want > cap
}

deny contains {"rule": "library.budgets.bad_amount", "reason": sprintf("requested %s must be a non-negative number", [k])} if {
	some k, want in requested
	not nonneg(want)
}

deny contains {"rule": "library.budgets.token_arg", "reason": sprintf("%s above %v is not allowed", [k, settings.max_tokens_arg])} if {
	input.event_type == "tool_call"
	some k in settings.token_args
	v := object.get(data.kitelogik.global.lib.inp, ["args", k], null)
	v != null
	not within(v, settings.max_tokens_arg)
}

nonneg(x) if {
	is_number(x)
	x >= 0
}

within(v, cap) if {
	nonneg(v)
	v <= cap
}

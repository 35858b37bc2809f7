# Resource budgets. Consulted for resource.use and for any other event that carries a budget.
#
# input.budget = {"remaining": {k: n}, "requested": {k: n}} for k in tokens, api_calls, compute_ms,
# money. A request is denied when any requested amount exceeds what remains. A key missing from
# `remaining` has no budget configured and is not limited. A resource.use event with a budget
# that has no `requested` map is denied: there is nothing to check it against. Malformed amounts
# are denied by kitelogik.global.validate.
package kitelogik.global.budget

import rego.v1

budget := data.kitelogik.global.lib.obj(object.get(data.kitelogik.global.lib.inp, "budget", {}))

remaining := data.kitelogik.global.lib.obj(object.get(budget, "remaining", {}))

requested := data.kitelogik.global.lib.obj(object.get(budget, "requested", {}))

deny contains d if {
	some k, want in requested
	have := remaining[k]
	is_number(want)
	is_number(have)
	want > have
	d := {"rule": "global.budget.exceeded", "reason": sprintf("budget exceeded: the requested %s is more than what remains", [data.kitelogik.global.lib.text(k)])}
}

deny contains d if {
	data.kitelogik.global.lib.event_type == "resource.use"
	not is_object(object.get(budget, "requested", null))
	d := {"rule": "global.budget.no_request", "reason": "resource.use: the event carries no budget.requested amounts"}
}

allow contains {"rule": "global.budget.within_budget", "reason": "resource.use within the remaining budget"} if {
	data.kitelogik.global.lib.event_type == "resource.use"
}

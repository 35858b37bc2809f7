package kitelogik.global.budget_test

import rego.v1

import data.kitelogik.global.fixtures_test as fx
import data.kitelogik.main

use(b) := d if {
	d := main.decision with input as fx.with_fields({"event_type": "resource.use", "action": "llm", "resource": null, "budget": b})
}

test_within_budget if {
	d := use({"remaining": {"tokens": 1000, "api_calls": 3, "money": 5.5}, "requested": {"tokens": 10, "api_calls": 1, "money": 2.25}})
	fx.verdict(d) == "allow"
	d.rules == ["global.budget.within_budget"]
}

test_over_budget if {
	d := use({"remaining": {"tokens": 1000, "api_calls": 0}, "requested": {"tokens": 10, "api_calls": 1}})
	d.deny
	d.reasons == ["budget exceeded: the requested api_calls is more than what remains"]
}

test_untracked_key_not_limited if {
	fx.verdict(use({"remaining": {"tokens": 10}, "requested": {"money": 3}})) == "allow"
}

test_resource_use_without_request_denied if {
	use(null).deny
	use({"remaining": {"tokens": 10}}).deny
}

test_budget_checked_on_tool_calls if {
	d := main.decision with input as fx.with_fields({"budget": {"remaining": {"tokens": 1}, "requested": {"tokens": 2}}})
	d.deny
	"global.budget.exceeded" in d.rules
}

package kitelogik.library.budgets_test

import rego.v1

import data.kitelogik.library.budgets

use(req) := {"event_type": "resource.use", "action": "llm", "budget": {"requested": req, "remaining": null}}

test_small_request_passes if {
	count(budgets.deny) == 0 with input as use({"tokens": 100, "money": 1})
}

test_cap if {
	{d.rule | some d in budgets.deny} == {"library.budgets.per_request_cap"} with input as use({"money": 51})
}

test_bad_amounts if {
	every v in ["5", -1, null, true] {
		"library.budgets.bad_amount" in {d.rule | some d in budgets.deny} with input as use({"tokens": v})
	}
}

test_token_arg if {
	count(budgets.deny) == 1 with input as {"event_type": "tool_call", "action": "llm_call", "args": {"max_tokens": 100000}}
	count(budgets.deny) == 1 with input as {"event_type": "tool_call", "action": "llm_call", "args": {"max_tokens": "9"}}
	count(budgets.deny) == 0 with input as {"event_type": "tool_call", "action": "llm_call", "args": {"max_tokens": 512}}
}

test_override if {
	count(budgets.deny) == 0 with input as use({"money": 80})
		with data.kitelogik.project.library_settings as {"budgets": {"max_per_request": {"money": 100}}}
}

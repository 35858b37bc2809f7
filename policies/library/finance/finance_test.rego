package kitelogik.library.finance_test

import rego.v1

import data.kitelogik.library.finance

pay(args) := {"event_type": "tool_call", "action": "transfer_funds", "args": args}

test_small_payment_passes if {
	count(finance.deny) == 0 with input as pay({"amount": 20, "currency": "EUR"})
	count(finance.requires_hitl) == 0 with input as pay({"amount": 20})
}

test_typed_amounts if {
	every a in ["50", null, true, -5, 0, {"v": 1}] {
		"library.finance.bad_amount" in {d.rule | some d in finance.deny} with input as pay({"amount": a})
	}
}

test_missing_amount_denied if {
	count(finance.deny) == 1 with input as pay({})
}

test_over_limit if {
	{d.rule | some d in finance.deny} == {"library.finance.over_limit"} with input as pay({"amount": 10001})
}

test_review if {
	{d.rule | some d in finance.requires_hitl} == {"library.finance.review"} with input as pay({"amount": 5000})
}

test_currency if {
	{d.rule | some d in finance.deny} == {"library.finance.currency"} with input as pay({"amount": 5, "currency": "XBT"})
}

test_settings_override if {
	{d.rule | some d in finance.deny} == {"library.finance.over_limit"} with input as pay({"amount": 300})
		with data.kitelogik.project.library_settings as {"finance": {"max_amount": 200}}
}

test_other_tools_untouched if {
	count(finance.deny) == 0 with input as {"event_type": "tool_call", "action": "read_file", "args": {"amount": "x"}}
}

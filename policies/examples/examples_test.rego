# The examples behave as documented when loaded as the project tier (simulated here with `with`).
package kitelogik.examples_test

import rego.v1

import data.kitelogik.examples.break_glass
import data.kitelogik.examples.refunds
import data.kitelogik.global.fixtures_test as fx
import data.kitelogik.main

refund(amount) := d if {
	inp := object.union(fx.call("issue_refund", {"paths": []}), {"args": {"amount": amount}, "context": object.union(fx.ctx, {"session_scopes": ["refunds:write"]})})
	# The project rules are evaluated against the same input first (a `with ... as` value is
	# evaluated in the outer context).
	deny := refunds.deny with input as inp
	hitl := refunds.requires_hitl with input as inp
	d := main.decision with input as inp
		with data.kitelogik.project.tools as refunds.tools
		with data.kitelogik.project.deny as deny
		with data.kitelogik.project.requires_hitl as hitl
}

test_examples_are_inert if {
	d := main.decision with input as fx.call("issue_refund", {"paths": []})
	d.rules == ["global.tools.unknown_tool"]
}

test_small_refund_escalates if {
	d := refund(50)
	fx.verdict(d) == "escalate"
	d.reasons == ["tool 'issue_refund' is transactional_high: a human must approve this call"]
}

test_large_refund_denied if {
	d := refund(900)
	d.deny
	d.reasons == ["refunds above 500 need a finance ticket"]
}

test_bad_amount_denied if refund("lots").deny

test_break_glass_allows_with_approval if {
	inp := object.union(fx.call("rotate_credentials", {"paths": []}), {"context": object.union(fx.ctx, {"agent_id": "iam-agent"})})
	allow := break_glass.allow with input as inp
	d := main.decision with input as inp with data.kitelogik.project.allow as allow
	fx.verdict(d) == "escalate"
	inp2 := fx.call("rotate_credentials", {"paths": []})
	allow2 := break_glass.allow with input as inp2
	d2 := main.decision with input as inp2 with data.kitelogik.project.allow as allow2
	fx.verdict(d2) == "deny"
}

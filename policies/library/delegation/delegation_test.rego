package kitelogik.library.delegation_test

import rego.v1

import data.kitelogik.library.delegation as dl

delegate(target, scopes, depth) := {
	"event_type": "agent.delegate", "action": "delegate", "args": {},
	"context": {"delegation_depth": 0},
	"spawn": {"child_scopes": scopes, "depth": depth, "target_agent_id": target},
}

targets := {"delegation": {"allowed_targets": ["researcher"]}}

test_allowed_delegation if {
	count(dl.deny) == 0 with input as delegate("researcher", ["fs:read"], 1) with data.kitelogik.project.library_settings as targets
}

test_unknown_target if {
	{d.rule | some d in dl.deny} == {"library.delegation.target_not_allowed"} with input as delegate("mallory", ["fs:read"], 1) with data.kitelogik.project.library_settings as targets
	{d.rule | some d in dl.deny} == {"library.delegation.target_not_allowed"} with input as delegate(null, ["fs:read"], 1) with data.kitelogik.project.library_settings as targets
}

test_target_in_args_is_not_trusted if {
	inp := object.union(delegate(null, ["fs:read"], 1), {"args": {"target_agent_id": "researcher"}})
	{d.rule | some d in dl.deny} == {"library.delegation.target_not_allowed"} with input as inp with data.kitelogik.project.library_settings as targets
}

test_never_delegated_scope if {
	{d.rule | some d in dl.deny} == {"library.delegation.scope_never_delegated"} with input as delegate("x", ["iam:admin"], 1)
}

test_depth if {
	{d.rule | some d in dl.deny} == {"library.delegation.too_deep"} with input as delegate("x", [], 3)
	{d.rule | some d in dl.deny} == {"library.delegation.too_deep"} with input as delegate("x", [], "1")
}
